// The floor bench/serve.ts holds the mirror against: `git http-backend` as CGI behind Bun.serve on
// 127.0.0.1, serving the same .git, in a process of its own so that its CPU and memory (its CGI
// children's too) are read from /proc the way the mirror's are. Two ports, one GIT_PROJECT_ROOT:
//   buffered  test/servers/git-http.ts as the tests use it: each CGI answer is read whole, then sent
//   streamed  the CGI's stdout passed on as git writes it, as a web server in front of
//             http-backend does (Apache's mod_cgi, nginx + fcgiwrap): the fair floor for a mirror
//             that streams its packs
// Both ask for Basic auth as the mirror does (git pays the same 401 round trip on both).
// Prints one JSON line {pid, buffered, streamed} and serves until killed; GET /__requests on
// the streamed port answers how many git requests each port has seen (to count a follower's polls).
// `bun bench/serve/floor.ts <GIT_PROJECT_ROOT> <user> <password file>`
import { readFileSync } from "node:fs";
import { cgiEnv, parseCgiHead, startGitHTTP } from "../../test/servers/git-http.ts";

const [projectRoot, user, passwordFile] = process.argv.slice(2);
if (!projectRoot || !user || !passwordFile) throw new Error("usage: bun bench/serve/floor.ts <GIT_PROJECT_ROOT> <user> <password file>");
const password = readFileSync(passwordFile, "utf8").trim();

const buffered = startGitHTTP({ projectRoot, users: { [user]: password } });

function authorized(req: Request): boolean {
  const h = req.headers.get("authorization") ?? "";
  return h.startsWith("Basic ") && Buffer.from(h.slice(6), "base64").toString("utf8") === `${user}:${password}`;
}

/** Where the CGI headers end in `buf`: [index, separator length], or null while they have not. */
function headerEnd(buf: Uint8Array): [number, number] | null {
  for (let i = 0; i + 1 < buf.length; i++) {
    if (buf[i] === 10 && buf[i + 1] === 10) return [i, 2];
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return [i, 4];
  }
  return null;
}

let streamedRequests = 0;
const streamed = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const url = new URL(req.url);
    if (url.pathname === "/__requests") return Response.json({ buffered: buffered.requests.length, streamed: streamedRequests });
    streamedRequests++;
    if (!authorized(req)) return new Response("unauthorized\n", { status: 401, headers: { "WWW-Authenticate": 'Basic realm="git"' } });
    const body = new Uint8Array(await req.arrayBuffer());
    const env = cgiEnv(req, body.length, { projectRoot, user });
    const cgi = Bun.spawn(["git", "http-backend"], { env, stdin: body, stdout: "pipe", stderr: "ignore" });
    const reader = cgi.stdout.getReader();
    let head: Uint8Array = new Uint8Array(0);
    let end: [number, number] | null = null;
    while (end === null) {
      const step = await reader.read();
      if (step.done) return new Response("bad CGI output\n", { status: 500 });
      head = Buffer.concat([head, step.value]);
      end = headerEnd(head);
    }
    const { status, headers } = parseCgiHead(head.subarray(0, end[0]));
    const rest = head.slice(end[0] + end[1]);
    const stream = new ReadableStream<Uint8Array>(
      {
        start(c) {
          if (rest.length > 0) c.enqueue(rest);
        },
        async pull(c) {
          const step = await reader.read();
          if (step.done) c.close();
          else c.enqueue(step.value);
        },
        cancel() {
          cgi.kill();
        },
      },
      { highWaterMark: 0 },
    );
    return new Response(stream, { status, headers });
  },
});

console.log(JSON.stringify({ pid: process.pid, buffered: buffered.url, streamed: `http://127.0.0.1:${streamed.port}` }));
