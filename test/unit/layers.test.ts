/**
 * The folders of components/ are layers, and imports only point down (in the spirit of crane's
 * import test): a pure rule that reaches for I/O, or a lower layer that imports a higher one,
 * fails here naming the file and the import. Type-only imports cost nothing at run time and are
 * allowed where the value import would not be, except upwards.
 */
import * as assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";

const components = path.resolve(__dirname, "../../components");

/** Each folder, its rank (imports go to the same or a lower rank) and the folders it may import. */
const LAYERS: Record<string, { rank: number; may: string[]; packages: RegExp }> = {
    rules: { rank: 0, may: ["rules"], packages: /^$/ },
    jupyterhub: { rank: 1, may: ["rules", "jupyterhub"], packages: /^$/ },
    cluster: {
        rank: 1,
        may: ["rules", "cluster"],
        packages: /^(@kubernetes\/client-node|js-yaml|crypto|fs|os|path|node:timers\/promises)$/,
    },
    run: { rank: 2, may: ["rules", "cluster", "run"], packages: /^(net|node:timers\/promises|node:v8)$/ },
    pulumi: {
        rank: 3,
        may: ["rules", "cluster", "run", "pulumi"],
        packages: /^(@pulumi\/pulumi|@pulumi\/kubernetes|crypto)$/,
    },
    plugin: {
        rank: 4,
        may: ["rules", "cluster", "run", "pulumi", "plugin"],
        packages: /^(@pulumi\/pulumi(\/proto\/[a-z_]+)?|@grpc\/grpc-js|node:(fs|path|async_hooks|module|util))$/,
    },
    // index.ts and the module paths that state written by 0.1.0 requires.
    ".": { rank: 5, may: ["rules", "cluster", "run", "pulumi", "plugin", "jupyterhub"], packages: /^$/ },
};
/** Modules a pure rule may use: computation only. */
const PURE_BUILTINS = /^(node:)?(crypto|util)$/;

interface ImportSite {
    file: string;
    specifier: string;
    typeOnly: boolean;
}

interface Source {
    file: string;
    text: string;
}

function importsOf({ file, text }: Source): ImportSite[] {
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const sites: ImportSite[] = [];
    const visit = (node: ts.Node) => {
        if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
            const clause = ts.isImportDeclaration(node) ? node.importClause : undefined;
            const typeOnly = ts.isImportDeclaration(node) ? !!clause?.isTypeOnly : node.isTypeOnly;
            sites.push({ file, specifier: (node.moduleSpecifier as ts.StringLiteral).text, typeOnly });
        } else if (
            ts.isCallExpression(node) &&
            node.expression.getText(source) === "require" &&
            node.arguments.length === 1 &&
            ts.isStringLiteral(node.arguments[0]!)
        ) {
            sites.push({ file, specifier: (node.arguments[0] as ts.StringLiteral).text, typeOnly: false });
        } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
            const literal = node.argument.literal;
            if (ts.isStringLiteral(literal)) sites.push({ file, specifier: literal.text, typeOnly: true });
        }
        ts.forEachChild(node, visit);
    };
    visit(source);
    return sites;
}

function filesIn(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? filesIn(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : [],
    );
}

function layerOf(file: string): string {
    const rel = path.relative(components, file);
    return rel.includes(path.sep) ? rel.split(path.sep)[0]! : ".";
}

/** What a set of sources breaks of the layer rules, one line per import. */
function layerViolations(sources: Source[]): string[] {
    const problems: string[] = [];
    for (const source of sources) {
        const file = source.file;
        const from = layerOf(file);
        const rule = LAYERS[from];
        const rel = path.relative(components, file);
        if (!rule) {
            problems.push(`${rel}: folder "${from}" is no layer (add it to LAYERS and the README's Layout)`);
            continue;
        }
        for (const site of importsOf(source)) {
            if (site.specifier.startsWith(".")) {
                const target = path.resolve(path.dirname(file), site.specifier);
                const to = layerOf(target.endsWith(".ts") ? target : `${target}.ts`);
                const toRule = LAYERS[to];
                if (!toRule) continue;
                if (toRule.rank > rule.rank) {
                    problems.push(`${rel}: imports "${site.specifier}" of the higher layer ${to}/`);
                } else if (!rule.may.includes(to) && !site.typeOnly) {
                    problems.push(`${rel}: imports "${site.specifier}" (${to}/), which ${from}/ may not`);
                }
            } else if (!site.typeOnly && !rule.packages.test(site.specifier)) {
                if (from === "rules" || from === "jupyterhub") {
                    if (!PURE_BUILTINS.test(site.specifier)) {
                        problems.push(`${rel}: a pure module loads "${site.specifier}" at run time`);
                    }
                } else if (from !== ".") {
                    problems.push(`${rel}: loads "${site.specifier}", not among what ${from}/ may load`);
                }
            }
        }
    }
    return problems;
}

describe("the layers of components/", () => {
    it("every import points down, and the pure rules load no I/O", () => {
        const sources = filesIn(components).map((file) => ({ file, text: readFileSync(file, "utf8") }));
        assert.ok(sources.length > 25, `${sources.length} sources`);
        assert.deepEqual(layerViolations(sources), []);
    });

    it("each folder says in its README what it may import", () => {
        for (const folder of Object.keys(LAYERS).filter((f) => f !== ".")) {
            const readme = readFileSync(path.join(components, folder, "README.md"), "utf8");
            assert.match(readme, /May import:/, `${folder}/README.md`);
        }
    });

    it("catches a pure module that does I/O, a lower layer that imports a higher one, and a stray folder", () => {
        const at = (rel: string, text: string) => ({ file: path.join(components, rel), text });
        assert.deepEqual(
            layerViolations([
                at("rules/a.ts", 'import { readFileSync } from "fs";\nconst net = require("net");'),
                at("rules/b.ts", 'import { prePull } from "../run/prepull";'),
                at("cluster/c.ts", 'import type { PrePullResult } from "../run/prepull";'),
                at("run/d.ts", 'import { ImagePrePuller } from "../pulumi/component";'),
                at("jupyterhub/e.ts", 'import { loadKubeConfig } from "../cluster/kube";'),
                at("misc/f.ts", ""),
                // Allowed: type-only client-node in a rule, a pure builtin, a lower layer.
                at(
                    "rules/g.ts",
                    'import type { V1Node } from "@kubernetes/client-node";\nimport { createHash } from "crypto";',
                ),
                at("run/h.ts", 'import { parseImageReference } from "../rules/references";'),
            ]),
            [
                'rules/a.ts: a pure module loads "fs" at run time',
                'rules/a.ts: a pure module loads "net" at run time',
                'rules/b.ts: imports "../run/prepull" of the higher layer run/',
                'cluster/c.ts: imports "../run/prepull" of the higher layer run/',
                'run/d.ts: imports "../pulumi/component" of the higher layer pulumi/',
                'jupyterhub/e.ts: imports "../cluster/kube" (cluster/), which jupyterhub/ may not',
                'misc/f.ts: folder "misc" is no layer (add it to LAYERS and the README\'s Layout)',
            ],
        );
    });
});
