/**
 * schema.json (what the provider plugin serves and the Python SDK is generated from) against the
 * TypeScript API it describes: `ImagePrePullerArgs` and the public outputs of `ImagePrePuller`,
 * read with the TypeScript compiler, so that the two cannot drift apart.
 */
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";
import { COMPONENT_OUTPUTS } from "../../../components/plugin/provider";

const root = path.resolve(__dirname, "../../..");
const componentFile = path.join(root, "components/pulumi/component.ts");

interface SchemaProperty {
    type?: string;
    items?: SchemaProperty;
    additionalProperties?: SchemaProperty;
    oneOf?: SchemaProperty[];
    $ref?: string;
    plain?: boolean;
    secret?: boolean;
}
interface SchemaObject {
    type?: string;
    properties?: Record<string, SchemaProperty>;
    required?: string[];
    enum?: { value: unknown }[];
}
interface Schema {
    name: string;
    version: string;
    resources: Record<
        string,
        SchemaObject & {
            isComponent?: boolean;
            inputProperties: Record<string, SchemaProperty>;
            requiredInputs?: string[];
        }
    >;
    types: Record<string, SchemaObject>;
}

const schema = JSON.parse(readFileSync(path.join(root, "schema.json"), "utf8")) as Schema;
const ANY = "pulumi.json#/Any";

/** The component's interface and class, type-checked as the build does. */
function loadComponent() {
    const { config } = ts.readConfigFile(path.join(root, "tsconfig.build.json"), ts.sys.readFile);
    const { options } = ts.parseJsonConfigFileContent(config, ts.sys, root);
    const program = ts.createProgram([componentFile], { ...options, noEmit: true });
    const source = program.getSourceFile(componentFile)!;
    let args: ts.InterfaceDeclaration | undefined;
    let component: ts.ClassDeclaration | undefined;
    source.forEachChild((node) => {
        if (ts.isInterfaceDeclaration(node) && node.name.text === "ImagePrePullerArgs") args = node;
        if (ts.isClassDeclaration(node) && node.name?.text === "ImagePrePuller") component = node;
    });
    assert.ok(args && component, "ImagePrePullerArgs or ImagePrePuller not found in components/pulumi/component.ts");
    return { checker: program.getTypeChecker(), args, component };
}

/** `pulumi.Input<T>` / `pulumi.Output<T>` -> T; anything else as is. */
function unwrap(node: ts.TypeNode, wrapper: "Input" | "Output"): { node: ts.TypeNode; wrapped: boolean } {
    if (ts.isTypeReferenceNode(node) && node.typeArguments?.length === 1) {
        const name = node.typeName.getText();
        if (name === wrapper || name === `pulumi.${wrapper}`) return { node: node.typeArguments[0]!, wrapped: true };
    }
    return { node, wrapped: false };
}

function resolveRef(ref: string): SchemaObject {
    const token = decodeURIComponent(ref.replace(/^#\/types\//, ""));
    const type = schema.types[token];
    assert.ok(type, `schema.json refers to ${ref}, which is not among its own types`);
    return type;
}

/**
 * Differences between a TypeScript type (inside `pulumi.Input`) and a schema property, as
 * "path: what" lines. Object types of @pulumi/kubernetes map to own schema types of the same
 * property names, or to pulumi.json#/Any.
 */
function differences(checker: ts.TypeChecker, where: string, node: ts.TypeNode, prop: SchemaProperty): string[] {
    const inner = unwrap(node, "Input").node;
    const kind = inner.kind;
    const mismatch = (expected: string) => [
        `${where}: TypeScript ${inner.getText()} but schema ${JSON.stringify(prop)} (${expected})`,
    ];
    if (prop.$ref === ANY) {
        const anything =
            kind === ts.SyntaxKind.UnknownKeyword || ts.isTypeReferenceNode(inner) || ts.isTypeLiteralNode(inner);
        return anything ? [] : mismatch("Any is for objects and unknown");
    }
    if (kind === ts.SyntaxKind.StringKeyword) return prop.type === "string" ? [] : mismatch("string");
    if (kind === ts.SyntaxKind.BooleanKeyword) return prop.type === "boolean" ? [] : mismatch("boolean");
    if (kind === ts.SyntaxKind.NumberKeyword) {
        return prop.type === "number" || prop.type === "integer" ? [] : mismatch("number or integer");
    }
    if (ts.isArrayTypeNode(inner)) {
        return prop.type === "array" && prop.items
            ? differences(checker, `${where}[]`, inner.elementType, prop.items)
            : mismatch("array");
    }
    if (
        ts.isUnionTypeNode(inner) &&
        inner.types.every((t) => ts.isLiteralTypeNode(t) && ts.isStringLiteral(t.literal))
    ) {
        // "a" | "b": a schema enum of strings with exactly those values.
        const values = inner.types.map((t) => ((t as ts.LiteralTypeNode).literal as ts.StringLiteral).text);
        const own = prop.$ref ? resolveRef(prop.$ref) : undefined;
        const enumValues = (own?.enum ?? []).map((e) => e.value);
        return own?.type === "string" && JSON.stringify(enumValues) === JSON.stringify(values)
            ? []
            : mismatch(`an enum of strings ${JSON.stringify(values)}`);
    }
    if (ts.isUnionTypeNode(inner)) {
        const options = prop.oneOf ?? [];
        if (options.length !== inner.types.length) return mismatch(`oneOf with ${inner.types.length} types`);
        return inner.types.flatMap((t, i) => differences(checker, `${where}|${i}`, t, options[i]!));
    }
    if (ts.isTypeReferenceNode(inner) && inner.typeName.getText() === "Record") {
        return prop.type === "object" && prop.additionalProperties
            ? differences(checker, `${where}{}`, inner.typeArguments![1]!, prop.additionalProperties)
            : mismatch("map");
    }
    if (ts.isTypeReferenceNode(inner) || ts.isTypeLiteralNode(inner)) {
        if (!prop.$ref) return mismatch("an object type");
        const own = resolveRef(prop.$ref);
        const members = checker.getTypeFromTypeNode(inner).getProperties();
        const names = members.map((m) => m.name).sort();
        const found: string[] = [];
        if (JSON.stringify(names) !== JSON.stringify(Object.keys(own.properties ?? {}).sort())) {
            found.push(
                `${where}: properties ${names.join(",")} but ${prop.$ref} has ${Object.keys(own.properties ?? {})}`,
            );
        }
        for (const member of members) {
            const declaration = member.valueDeclaration;
            const ownProp = own.properties?.[member.name];
            if (!declaration || !ts.isPropertySignature(declaration) || !declaration.type || !ownProp) continue;
            found.push(...differences(checker, `${where}.${member.name}`, declaration.type, ownProp));
            const required = !declaration.questionToken;
            if (required !== (own.required ?? []).includes(member.name)) {
                found.push(`${where}.${member.name}: required is ${required} in TypeScript`);
            }
        }
        return found;
    }
    return mismatch("a type this test knows");
}

describe("schema.json against the TypeScript API", function () {
    this.timeout(120_000);
    const resource = schema.resources["image-prepuller:index:ImagePrePuller"]!;
    let loaded: ReturnType<typeof loadComponent>;
    before(() => {
        loaded = loadComponent();
    });

    it("describes the component with the package's name and version", () => {
        const manifest = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { version: string };
        assert.equal(schema.name, "image-prepuller");
        assert.equal(schema.version, manifest.version, "bump schema.json's version with package.json's");
        assert.equal(resource.isComponent, true);
        assert.deepEqual(Object.keys(schema.resources), ["image-prepuller:index:ImagePrePuller"]);
    });

    it("has the inputs of ImagePrePullerArgs, with the same types, required and plain ones", () => {
        const { checker, args } = loaded;
        const tsNames: string[] = [];
        const found: string[] = [];
        for (const member of args.members) {
            if (!ts.isPropertySignature(member) || !member.type) continue;
            const name = member.name.getText();
            tsNames.push(name);
            const prop = resource.inputProperties[name];
            if (!prop) continue;
            found.push(...differences(checker, name, member.type, prop));
            const plain = !unwrap(member.type, "Input").wrapped;
            if (plain !== (prop.plain === true)) found.push(`${name}: plain is ${plain} in TypeScript`);
        }
        assert.deepEqual(Object.keys(resource.inputProperties).sort(), [...tsNames].sort());
        const required = args.members.filter((m) => ts.isPropertySignature(m) && !m.questionToken);
        assert.deepEqual([...(resource.requiredInputs ?? [])].sort(), required.map((m) => m.name!.getText()).sort());
        assert.deepEqual(found, []);
        assert.equal(resource.inputProperties.kubeconfig?.secret, true, "kubeconfig must be a secret input");
    });

    it("has the public outputs of ImagePrePuller, and construct returns each of them", () => {
        const { checker, component } = loaded;
        const outputs = component.members.filter(
            (m): m is ts.PropertyDeclaration =>
                ts.isPropertyDeclaration(m) &&
                !!m.type &&
                unwrap(m.type, "Output").wrapped &&
                !m.modifiers?.some((x) => x.kind === ts.SyntaxKind.PrivateKeyword),
        );
        const names = outputs.map((m) => m.name.getText());
        assert.deepEqual(Object.keys(resource.properties ?? {}).sort(), [...names].sort());
        assert.deepEqual([...COMPONENT_OUTPUTS].sort(), [...names].sort());
        const found: string[] = [];
        const required: string[] = [];
        for (const member of outputs) {
            const name = member.name.getText();
            let inner = unwrap(member.type!, "Output").node;
            if (ts.isUnionTypeNode(inner)) {
                const defined = inner.types.filter((t) => t.kind !== ts.SyntaxKind.UndefinedKeyword);
                if (defined.length === 1) inner = defined[0]!;
            } else {
                required.push(name);
            }
            found.push(...differences(checker, name, inner, resource.properties![name]!));
        }
        assert.deepEqual(found, []);
        assert.deepEqual([...(resource.required ?? [])].sort(), required.sort());
    });

    it("refers to its own types only, so that generating an SDK loads no other package", () => {
        const refs = JSON.stringify(schema).match(/"\$ref":"[^"]*"/g) ?? [];
        const foreign = refs.filter((r) => !/"\$ref":"(#\/types\/image-prepuller:|pulumi\.json#\/Any)/.test(r));
        assert.deepEqual(foreign, []);
    });
});
