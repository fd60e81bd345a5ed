// Real servers on 127.0.0.1 for auth tests (test/auth) and, later, black-box and image tests.
export { startGitHTTP, startRedirectProxy, type GitHTTPServer, type GitHTTPOptions, type RequestKind } from "./git-http.ts";
export { makeTestCA, type TestCA } from "./tls.ts";
export { startSSHD, genKey, type SSHServer } from "./sshd.ts";
export { startAskpassServer, type AskpassServer, type AskpassMode } from "./askpass.ts";
export { startGitHubServer, makeAppKey, type GitHubServer } from "./github.ts";
export { makeBareRepo, pushCommit } from "./repos.ts";
