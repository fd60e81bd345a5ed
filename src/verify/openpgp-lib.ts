// OpenPGP.js as a module of its own in the executable (scripts/build.ts embeds it beside
// main): loaded by openpgp.ts on first use, never at startup.
export * from "openpgp";
