// A commit whose tree git-sync will not publish: git's fsck refused its objects on fetch
// (fetch.fsckObjects), or copy mode found a name it must not write (a `.git` look-alike, a name
// listed twice, a name git-sync reserves). Git worked and the content was refused, so the loop
// reports it like a signature refusal (verdict "bad-tree"), not as a failure of the sync.
export class TreeRefused extends Error {}
