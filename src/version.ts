// Injected by scripts/build.ts (Bun.build `define`); "dev" when run from source.
declare const GIT_SYNC_VERSION: string | undefined;
export const VERSION: string = typeof GIT_SYNC_VERSION === "string" ? GIT_SYNC_VERSION : "dev";
