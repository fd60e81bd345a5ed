// --http-bind, parsed once for the endpoint (http/server.ts), the CLI and --peers (the port peers share).

/**
 * Go's net.Listen address: "host:port", ":port" (all interfaces) or "[v6addr]:port".
 * The host is returned without brackets; "" means all interfaces.
 */
export function parseBind(bind: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(bind);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new Error(`invalid --http-bind ${JSON.stringify(bind)}: want host:port, :port or [ipv6]:port`);
  return { host: m[1] ?? m[2] ?? "", port };
}
