/**
 * A Kubernetes object applied with server-side apply, for the example stack.
 *
 * Why not @pulumi/kubernetes here: its resource plugin is downloaded at install time, and this
 * project's machines cannot download it (nor build it: its Go module lacks generated schema
 * files). This small dynamic resource keeps the example a real stack on a real cluster; a user
 * with the plugin would write `new k8s.apps.v1.Deployment(...)` instead.
 */
import * as pulumi from "@pulumi/pulumi";
import type * as k8s from "@kubernetes/client-node" with { "resolution-mode": "import" };

interface ObjectInputs {
    manifest: k8s.KubernetesObject;
    kubeconfig?: string;
}

function client(kubeconfig: string | undefined): k8s.KubernetesObjectApi {
    const lib = require("@kubernetes/client-node") as typeof k8s;
    const kc = new lib.KubeConfig();
    if (kubeconfig) kc.loadFromString(kubeconfig);
    else kc.loadFromDefault();
    return lib.KubernetesObjectApi.makeApiClient(kc);
}

async function apply(inputs: ObjectInputs): Promise<k8s.KubernetesObject> {
    return client(inputs.kubeconfig).patch(
        inputs.manifest,
        undefined,
        undefined,
        "pulumi-example",
        true,
        "application/apply-patch+yaml" as never,
    );
}

function idOf(manifest: k8s.KubernetesObject): string {
    const ns = manifest.metadata?.namespace;
    return `${manifest.apiVersion}/${manifest.kind}/${ns ? `${ns}/` : ""}${manifest.metadata?.name}`;
}

const objectProvider: pulumi.dynamic.ResourceProvider = {
    async diff(_id: string, olds: ObjectInputs, news: ObjectInputs) {
        const changes = JSON.stringify(olds.manifest) !== JSON.stringify(news.manifest);
        const identity = (m: k8s.KubernetesObject) =>
            `${m.apiVersion}/${m.kind}/${m.metadata?.namespace}/${m.metadata?.name}`;
        return { changes, replaces: identity(olds.manifest) !== identity(news.manifest) ? ["manifest"] : [] };
    },
    async create(inputs: ObjectInputs) {
        const live = await apply(inputs);
        return { id: idOf(inputs.manifest), outs: { ...inputs, uid: live.metadata?.uid } };
    },
    async update(_id: string, _olds: ObjectInputs, news: ObjectInputs) {
        const live = await apply(news);
        return { outs: { ...news, uid: live.metadata?.uid } };
    },
    async delete(_id: string, props: ObjectInputs) {
        try {
            await client(props.kubeconfig).delete(
                props.manifest,
                undefined,
                undefined,
                undefined,
                undefined,
                "Foreground",
            );
        } catch (e) {
            if ((e as { code?: number }).code !== 404) throw e;
        }
    },
};

export interface KubernetesObjectArgs {
    manifest: pulumi.Input<k8s.KubernetesObject>;
    kubeconfig?: pulumi.Input<string>;
}

export class KubernetesObject extends pulumi.dynamic.Resource {
    declare public readonly uid: pulumi.Output<string>;

    constructor(name: string, args: KubernetesObjectArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            objectProvider,
            name,
            { ...args, kubeconfig: args.kubeconfig && pulumi.secret(args.kubeconfig), uid: undefined },
            { ...opts, additionalSecretOutputs: ["kubeconfig"] },
            "example",
            "KubernetesObject",
        );
    }
}
