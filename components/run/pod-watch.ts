/**
 * The run's own pods, watched as Table rows (see rules/rows.ts): a row says how many init
 * containers of a pod completed, which is the presence evidence, so that is all the watch carries.
 * A pod is read in full only where a row cannot tell enough: a row that shows a problem
 * ("Init:ErrImagePull", an eviction), a pod the scheduler wrote to without binding it (it cannot
 * place it), and a pod a Warning event names (a sandbox or mount failure: the problem rules read
 * its conditions). Such a pod is read again whenever its row changes, until none of that holds.
 */
import type { ClusterClient, ListPage } from "../cluster/client";
import { watchObjects, type Watched } from "../cluster/watch";
import { projectPod } from "../rules/projection";
import {
    newObservation,
    observe,
    podDaemonSet,
    podFromRow,
    podProgress,
    POD_COLUMNS,
    rowNode,
    rowSuffices,
    TABLE_ACCEPT,
    tableRows,
    type PodObservation,
    type PodTemplate,
    type Row,
} from "../rules/rows";
import type { Pod } from "../rules/wire";
import { ownPods } from "../rules/daemonset";

/** A DaemonSet of the run, as its pods are matched to it: by name, with its pod template. */
export interface OwnDaemonSet {
    name: string;
    uid: string;
    template: PodTemplate;
}

export interface PodWatch extends Watched<Pod> {
    /** The pods list() gives, by node: each node's array is replaced, never changed, when its pods change. */
    byNode(): ReadonlyMap<string, readonly Pod[]>;
    /** The run's DaemonSets, once created: their pods are listed from then on. */
    own(daemonSets: readonly OwnDaemonSet[]): void;
    /** A Warning event named this pod: read it in full (now, and at every change of its row). */
    namedByWarning(podName: string): void;
    /** Full reads made so far (for the bench and tests). */
    reads(): number;
}

interface PodState {
    row: Row;
    observation: PodObservation;
    /** The pod's own containers, where a full read found others than the template's (injected ones). */
    template?: PodTemplate;
    /** The last full read, and the row's resourceVersion it answered. */
    full?: Pod;
    fullFor?: string;
    /** The scheduler (or anyone) wrote to the pod while it was unbound. */
    touchedUnbound: boolean;
    named: boolean;
    /** What list() gives for it, rebuilt on every change. */
    shown?: Pod;
}

export async function watchPods(
    cluster: ClusterClient,
    namespace: string,
    labelSelector: string,
    onChange: () => void,
    /** Told of the node of each pod read because its row shows a problem. */
    onProblemNode: (node: string) => void = () => undefined,
    now: () => number = Date.now,
): Promise<PodWatch> {
    const states = new Map<string, PodState>();
    let owned: readonly OwnDaemonSet[] = [];
    let columns: readonly string[] | undefined;
    let reads = 0;
    let listed: Pod[] | undefined;
    // The shown pods by node, and the pods' names by node (see place).
    const byNode = new Map<string, readonly Pod[]>();
    const namesOnNode = new Map<string, Set<string>>();
    let readTrouble: string | undefined;
    const inFlight = new Set<string>();
    const again = new Set<string>();
    // Pods named by a Warning event, possibly before their first row arrived.
    const named = new Set<string>();

    const daemonSetOf = (name: string) => {
        const ds = podDaemonSet(
            name,
            owned.map((d) => d.name),
        );
        return owned.find((d) => d.name === ds);
    };
    const needsRead = (state: PodState, template: PodTemplate): boolean => {
        const progress = podProgress(state.row);
        if (!rowSuffices(progress, template.initContainers.length) || state.named) return true;
        return rowNode(state.row) === undefined && state.touchedUnbound && progress.kind === "pending";
    };
    /**
     * Keeps `byNode` current as a pod's shown object changes: the arrays of the nodes it left and
     * joined are replaced (never changed), so that the wait loop tells a node's changed pods by
     * the array alone.
     */
    const place = (name: string, before: Pod | undefined, after: Pod | undefined) => {
        listed = undefined;
        const from = before?.spec?.nodeName;
        const to = after?.spec?.nodeName;
        if (from && from !== to) namesOnNode.get(from)?.delete(name);
        if (to) {
            let names = namesOnNode.get(to);
            if (!names) namesOnNode.set(to, (names = new Set()));
            names.add(name);
        }
        for (const node of from === to ? [to] : [from, to]) {
            if (!node) continue;
            const shown: Pod[] = [];
            for (const podName of namesOnNode.get(node) ?? []) {
                const pod = states.get(podName)?.shown;
                if (pod) shown.push(pod);
            }
            if (shown.length > 0) byNode.set(node, shown);
            else {
                byNode.delete(node);
                namesOnNode.delete(node);
            }
        }
    };
    /** Sets what list() shows of a pod; true when the pod must be read (again) in full. */
    const show = (state: PodState | undefined, name: string): boolean => {
        const ds = daemonSetOf(name);
        if (!state || !ds) {
            if (state) state.shown = undefined;
            return false;
        }
        const template = state.template ?? ds.template;
        const synthesized = () => podFromRow(state.row, template, ds.uid, state.observation);
        if (!needsRead(state, template)) {
            state.shown = synthesized();
            return false;
        }
        // A pod read in full that another DaemonSet owns (someone copied the run's labels) is no evidence.
        const full = state.full && ownPods([state.full], [ds.uid]).length === 1 ? state.full : undefined;
        state.shown = full ?? synthesized();
        return state.full === undefined || state.fullFor !== state.row.metadata.resourceVersion;
    };
    /** Rebuilds what list() shows of a pod, where it shows it; true when the pod must be read (again) in full. */
    const refresh = (name: string): boolean => {
        const state = states.get(name);
        const before = state?.shown;
        const needs = show(state, name);
        place(name, before, state?.shown);
        return needs;
    };
    const read = async (name: string): Promise<void> => {
        if (inFlight.has(name)) {
            again.add(name);
            return;
        }
        inFlight.add(name);
        try {
            const rowVersion = states.get(name)?.row.metadata.resourceVersion;
            // A list of the one pod: the same bytes as a get, and no RBAC verb beyond list and watch.
            const found = await cluster.call({ verb: "list", resource: "pods", namespace }, () =>
                cluster.getJson<ListPage<Pod>>(`/api/v1/namespaces/${namespace}/pods`, {
                    fieldSelector: `metadata.name=${name}`,
                }),
            );
            reads++;
            readTrouble = undefined;
            const pod = found.items?.[0];
            const state = states.get(name);
            // Gone meanwhile: its row's deletion follows.
            if (state && pod) {
                state.full = projectPod(pod);
                state.fullFor = rowVersion;
                const spec = state.full.spec;
                const ds = daemonSetOf(name);
                if (ds && spec && (spec.initContainers?.length ?? 0) !== ds.template.initContainers.length) {
                    state.template = {
                        initContainers: (spec.initContainers ?? []).map((c) => ({ name: c.name, image: c.image })),
                        containers: spec.containers.map((c) => ({ name: c.name, image: c.image })),
                    };
                }
                refresh(name);
                const node = state.full.spec?.nodeName;
                if (node && podProgress(state.row).kind === "other") onProblemNode(node);
                onChange();
            }
        } catch (e) {
            // Shown in progress and at the timeout; the next change of its row reads it again.
            readTrouble = (e as Error).message.replace(/^image-prepuller: /, "");
        } finally {
            inFlight.delete(name);
            if (again.delete(name) && states.has(name) && !cluster.signal.aborted) void read(name);
        }
    };
    const update = (name: string) => {
        if (refresh(name)) void read(name);
    };
    const rowArrived = (row: Row, added: boolean) => {
        const name = row.metadata.name;
        const state: PodState = states.get(name) ?? {
            row,
            observation: newObservation(),
            touchedUnbound: false,
            named: named.has(name),
        };
        const progress = podProgress(row);
        const template = state.template ?? daemonSetOf(name)?.template;
        // Before its DaemonSet is known here, a pod's own count of init containers stands in.
        const count = template?.initContainers.length ?? (progress.kind === "init" ? progress.of : -1);
        state.observation = observe(state.observation, progress, count, now());
        if (!added && rowNode(row) === undefined) state.touchedUnbound = true;
        state.row = row;
        states.set(name, state);
        update(name);
    };
    const watched = await watchObjects<Row>(cluster, {
        path: `/api/v1/namespaces/${namespace}/pods`,
        call: { verb: "list", resource: "pods", namespace },
        listPage: async (page) => {
            const table = await cluster.getJson(
                `/api/v1/namespaces/${namespace}/pods`,
                { labelSelector, includeObject: "None", limit: page.limit, continue: page._continue },
                TABLE_ACCEPT,
            );
            const parsed = tableRows(table, columns, POD_COLUMNS, namespace);
            columns = parsed.columns;
            return {
                items: parsed.rows,
                metadata: { resourceVersion: parsed.resourceVersion, _continue: parsed.continueToken },
            };
        },
        labelSelector,
        accept: TABLE_ACCEPT,
        query: { includeObject: "None" },
        project: (table) => {
            const parsed = tableRows(table, columns, POD_COLUMNS, namespace);
            columns = parsed.columns;
            return parsed.rows[0];
        },
        onEvent: (change, row) => {
            if (change === "delete") {
                const before = states.get(row.metadata.name)?.shown;
                states.delete(row.metadata.name);
                place(row.metadata.name, before, undefined);
            } else rowArrived(row, change === "add");
        },
        onChange,
    });

    return {
        // The same array until something changes: the wait loop's memo keys on it.
        list: () => {
            if (listed === undefined) {
                listed = [];
                for (const state of states.values()) if (state.shown) listed.push(state.shown);
            }
            return listed;
        },
        byNode: () => byNode,
        fatalError: () => watched.fatalError(),
        trouble: () => watched.trouble() ?? readTrouble,
        stop: () => watched.stop(),
        own: (daemonSets) => {
            owned = daemonSets;
            for (const name of states.keys()) update(name);
            onChange();
        },
        namedByWarning: (podName) => {
            named.add(podName);
            const state = states.get(podName);
            if (!state || state.named) return;
            state.named = true;
            update(podName);
        },
        reads: () => reads,
    };
}
