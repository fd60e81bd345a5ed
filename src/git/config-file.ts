// A git config file written by us in one go instead of one `git config <k> <v>` process per key:
// the private global gitconfig (behaviour.md 3 steps 8-12; with the defaults and a few --git-config
// entries that was five processes and ~8 ms of every start) and `origin` in a new repo.
//
// Semantics kept from `git config <k> <v>`: section and variable names are
// case-insensitive (stored lower-case, as `git config --list` shows them), the subsection keeps
// its case, setting a key again replaces its value in place, and a new key joins its section. A key git would refuse is not
// ours to judge: `set` reports it, and the caller lets git itself refuse it with its own words.

export class GitConfigFile {
  /** The file's entries in order. */
  private readonly entries: Entry[] = [];

  /** False when `key` is not a key git accepts (no section, bad characters, ...): nothing is set. */
  set(key: string, value: string): boolean {
    const parts = parseKey(key);
    if (!parts) return false;
    const entry = { ...parts, key: normalizedKey(parts), value };
    const same = this.entries.findIndex((e) => e.key === entry.key);
    if (same >= 0) {
      this.entries[same] = entry;
      return true;
    }
    // As git does: a new key goes at the end of the last block of its section, else at the end.
    const header = (e: KeyParts) => `${e.section}\0${e.subsection}`;
    const last = this.entries.findLastIndex((e) => header(e) === header(entry));
    this.entries.splice(last >= 0 ? last + 1 : this.entries.length, 0, entry);
    return true;
  }

  /** [key, value] as `git config --global --list` prints them. */
  list(): Array<[string, string]> {
    return this.entries.map((e) => [e.key, e.value]);
  }

  /** The file's text: one section header per run of keys sharing it, every value quoted. */
  render(): string {
    let out = "";
    let header = "";
    for (const e of this.entries) {
      const h = e.subsection === null ? `[${e.section}]` : `[${e.section} "${e.subsection.replace(/[\\"]/g, (c) => "\\" + c)}"]`;
      if (h !== header) {
        out += h + "\n";
        header = h;
      }
      out += `\t${e.name} = ${quoteValue(e.value)}\n`;
    }
    return out;
  }
}

interface KeyParts {
  section: string;
  subsection: string | null;
  name: string;
}

interface Entry extends KeyParts {
  /** As `git config --list` prints it. */
  key: string;
  value: string;
}

/** git's config.c git_config_parse_key: section[.subsection].name. */
function parseKey(key: string): KeyParts | null {
  const first = key.indexOf(".");
  const last = key.lastIndexOf(".");
  if (first <= 0 || last === key.length - 1) return null;
  const section = key.slice(0, first);
  const name = key.slice(last + 1);
  if (!/^[A-Za-z0-9-]+$/.test(section) || !/^[A-Za-z][A-Za-z0-9-]*$/.test(name)) return null;
  if (first === last) return { section: section.toLowerCase(), subsection: null, name: name.toLowerCase() };
  const subsection = key.slice(first + 1, last);
  if (/[\n\0]/.test(subsection)) return null;
  return { section: section.toLowerCase(), subsection, name: name.toLowerCase() };
}

function normalizedKey(p: KeyParts): string {
  return p.subsection === null ? `${p.section}.${p.name}` : `${p.section}.${p.subsection}.${p.name}`;
}

/** A double-quoted config value: git's reader undoes exactly these escapes. */
function quoteValue(v: string): string {
  const escaped = v.replace(/[\\"\n\t\b]/g, (c) => ({ "\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\b": "\\b" })[c]!);
  return `"${escaped}"`;
}
