import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../cli/support/process.js";

/** README.md and every Markdown file under docs/ (the generated docs/api excepted). */
function markdownFiles(): string[] {
  const found = [join(REPO_ROOT, "README.md")];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (name !== "api") walk(path);
      } else if (name.endsWith(".md")) found.push(path);
    }
  };
  walk(join(REPO_ROOT, "docs"));
  return found;
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

function anchors(file: string): Set<string> {
  const text = readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "");
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((match) => slug(match[1] ?? "")));
}

/** Relative links `[text](target)` outside code blocks. */
function links(file: string): string[] {
  const text = readFileSync(file, "utf8").replace(/```[\s\S]*?```/g, "");
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((match) => match[1] ?? "")
    .filter((target) => !/^[a-z]+:/.test(target));
}

const DOCUMENTS = markdownFiles();

describe("README and docs", () => {
  it.each(DOCUMENTS.map((file) => relative(REPO_ROOT, file)))("%s: every relative link resolves", (name) => {
    const file = join(REPO_ROOT, name);
    const broken: string[] = [];
    for (const target of links(file)) {
      const [path = "", anchor] = target.split("#");
      const resolved = path === "" ? file : join(dirname(file), decodeURIComponent(path));
      if (!existsSync(resolved)) broken.push(`${target} (no such file)`);
      else if (anchor && resolved.endsWith(".md") && !anchors(resolved).has(anchor)) {
        broken.push(`${target} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("cite no outside specification document, its section numbers or its query numbers", () => {
    const sources = [
      ...DOCUMENTS,
      ...readdirSync(join(REPO_ROOT, "migrations")).map((name) => join(REPO_ROOT, "migrations", name)),
      ...readdirSync(join(REPO_ROOT, ".changeset"))
        .filter((name) => name.endsWith(".md"))
        .map((name) => join(REPO_ROOT, ".changeset", name)),
    ];
    const srcFiles = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => {
        const path = join(dir, name);
        return statSync(path).isDirectory() ? srcFiles(path) : [path];
      });
    const offending: string[] = [];
    for (const file of [...sources, ...srcFiles(join(REPO_ROOT, "src"))]) {
      const text = readFileSync(file, "utf8");
      for (const pattern of [
        /\bthe seed\b/i,
        /seed-data-model/i,
        /\bseed §/i,
        /\bquery 5\.\d/i,
        /\bdata model's\b/i,
      ]) {
        if (pattern.test(text)) offending.push(`${relative(REPO_ROOT, file)}: ${pattern}`);
      }
    }
    expect(offending).toEqual([]);
  });

  it("README: the two commands, the guarantees and the start of the quick start come first", () => {
    const lines = readFileSync(join(REPO_ROOT, "README.md"), "utf8").split("\n");
    const line = (pattern: RegExp): number => lines.findIndex((text) => pattern.test(text));
    expect(line(/^npm install && npm run demo/)).toBeLessThan(10);
    expect(line(/^npm test/)).toBeLessThan(10);
    expect(line(/^\*\*Guarantees\*\*/)).toBeLessThan(20);
    expect(line(/^## Quick start/)).toBeLessThan(30);
    expect(line(/<!-- readme-test: quick-start -->/)).toBeLessThan(50);
  });
});
