/**
 * Table rows: what a run's watches of pods and nodes carry instead of whole objects. The
 * apiserver prints each object as `kubectl get` shows it (`Accept: as=Table`, `includeObject=None`):
 * a few hundred bytes where a whole Pod is 10-30 KB and a whole Node 10 KB. A pod's STATUS column
 * says how many of its init containers completed ("Init:2/6"), or why it is held up
 * ("Init:ErrImagePull"); a node's says Ready, NotReady or Unknown, and SchedulingDisabled.
 *
 * From a row, presence and eligibility need no more than that: a pre-pull pod's row becomes a Pod
 * whose completed init containers are the evidence (their images are on the node), and a node's
 * row updates its Ready condition and cordon. Anything a row cannot say (a pull error's message,
 * a pod the scheduler cannot place, a node's taints and labels) is read in full, for that one
 * object (see podNeedsRead and nodeRowChange). The column layouts are the apiserver's printers
 * (pkg/printers/internalversion, printPod and printNode).
 */
import type { Node, Pod } from "./wire";

/** The Accept header of a Table response (server-side printing). */
export const TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io";

/** One row, keyed as the watch cache keys objects (namespace, name, resourceVersion). */
export interface Row {
    metadata: { name: string; namespace?: string; resourceVersion?: string };
    /** The row's cells by column name ("Status", "Node", ...). */
    cells: Record<string, string>;
}

/** What a Table response carries (a list, or one watch event's object). */
interface Table {
    metadata?: { resourceVersion?: string; continue?: string };
    columnDefinitions?: { name?: string }[] | null;
    rows?: { cells?: unknown[] }[] | null;
}

/**
 * The rows of a Table. A watch sends the column names with its first event only, so the caller
 * keeps them (`columns`) for the events after; a row whose table named no columns and that has
 * none remembered is read by the printers' own order (`defaultColumns`).
 */
export function tableRows(
    table: unknown,
    remembered: readonly string[] | undefined,
    defaultColumns: readonly string[],
    namespace?: string,
): { columns: readonly string[]; rows: Row[]; resourceVersion?: string; continueToken?: string } {
    const t = (table ?? {}) as Table;
    const named = (t.columnDefinitions ?? []).map((c) => c.name ?? "");
    const columns = named.length > 0 ? named : (remembered ?? defaultColumns);
    const rows: Row[] = [];
    for (const row of t.rows ?? []) {
        const cells: Record<string, string> = {};
        (row.cells ?? []).forEach((value, i) => {
            const column = columns[i];
            if (column !== undefined) cells[column] = value === null || value === undefined ? "" : String(value);
        });
        const name = cells.Name;
        if (!name) continue;
        rows.push({ metadata: { name, namespace, resourceVersion: undefined }, cells });
    }
    // A watch event is about one object: the table's resourceVersion is that object's.
    if (rows.length === 1 && t.metadata?.resourceVersion)
        rows[0]!.metadata.resourceVersion = t.metadata.resourceVersion;
    return {
        columns,
        rows,
        resourceVersion: t.metadata?.resourceVersion,
        continueToken: t.metadata?.continue || undefined,
    };
}

/** printPod's columns, in order (all of them: the apiserver prints the wide ones too). */
export const POD_COLUMNS: readonly string[] = [
    "Name",
    "Ready",
    "Status",
    "Restarts",
    "Age",
    "IP",
    "Node",
    "Nominated Node",
    "Readiness Gates",
];
/** printNode's columns, in order. */
export const NODE_COLUMNS: readonly string[] = [
    "Name",
    "Status",
    "Roles",
    "Age",
    "Version",
    "Internal-IP",
    "External-IP",
    "OS-Image",
    "Kernel-Version",
    "Container-Runtime",
];

/** The printers' word for a missing value. */
const NONE = "<none>";

/** The node a pod row names, if the pod is bound. */
export function rowNode(row: Row): string | undefined {
    const node = row.cells.Node;
    return node && node !== NONE ? node : undefined;
}

/**
 * How far a pre-pull pod got, as its STATUS column says (printPod):
 * - `init`: "Init:k/n", k of its n init containers completed;
 * - `initialized`: every init container completed (the row shows a main container's state:
 *   PodInitializing, ContainerCreating), `running`: and the main container runs;
 * - `pending`: the kubelet has reported nothing yet ("Pending");
 * - `terminating`: the pod is being deleted (its evidence so far stands);
 * - `other`: anything else (a pull or start error, a failed pod, an eviction): only the whole
 *   pod says what, so it is read in full.
 */
export type PodProgress =
    | { kind: "init"; completed: number; of: number }
    | { kind: "initialized" }
    | { kind: "running" }
    | { kind: "pending" }
    | { kind: "terminating" }
    | { kind: "other"; status: string };

/** Main-container states printPod shows only once every init container completed. */
const INITIALIZED_STATUSES: readonly string[] = ["PodInitializing", "ContainerCreating"];

export function podProgress(row: Row): PodProgress {
    const status = row.cells.Status ?? "";
    const init = /^Init:(\d+)\/(\d+)$/.exec(status);
    if (init) return { kind: "init", completed: Number(init[1]), of: Number(init[2]) };
    if (INITIALIZED_STATUSES.includes(status)) return { kind: "initialized" };
    if (status === "Running") return { kind: "running" };
    if (status === "Pending") return { kind: "pending" };
    if (status === "Terminating") return { kind: "terminating" };
    return { kind: "other", status };
}

/**
 * Whether a row says all a run needs of its pod, whose template has `initContainers` init
 * containers: its progress, or that nothing happened yet. A count of init containers other than
 * the template's (an admission webhook injected some) needs the pod's own spec.
 */
export function rowSuffices(progress: PodProgress, initContainers: number): boolean {
    if (progress.kind === "other") return false;
    return progress.kind !== "init" || progress.of === initContainers;
}

/**
 * What a run saw of one pod's progress: the most init containers seen completed, and when each
 * count was first seen. `exact[k]` says the count reached k from k-1 in one step, so that
 * `firstSeen[k]` is when init container k-1 ended (a step of several says only that they ended
 * by then). The times are the run's clock at the row's arrival: the kubelet writes a pod's status
 * right after each container ends, so each end shows one write and one event later.
 */
export interface PodObservation {
    completed: number;
    firstSeen: Record<number, number>;
    exact: Record<number, boolean>;
    /** The main containers were seen running. */
    running: boolean;
    terminating: boolean;
}

export function newObservation(): PodObservation {
    return { completed: 0, firstSeen: {}, exact: {}, running: false, terminating: false };
}

/**
 * The observation after a row with this progress arrived at `now`, for a pod with
 * `initContainers` init containers. Evidence never goes back.
 */
export function observe(
    observation: PodObservation,
    progress: PodProgress,
    initContainers: number,
    now: number,
): PodObservation {
    const next: PodObservation = {
        completed: observation.completed,
        firstSeen: { ...observation.firstSeen },
        exact: { ...observation.exact },
        running: observation.running || progress.kind === "running",
        terminating: observation.terminating || progress.kind === "terminating",
    };
    const completed =
        progress.kind === "init" && progress.of === initContainers
            ? progress.completed
            : progress.kind === "initialized" || progress.kind === "running"
              ? initContainers
              : undefined;
    if (completed !== undefined && completed > observation.completed) {
        for (let k = observation.completed + 1; k <= completed; k++) {
            next.firstSeen[k] = now;
            next.exact[k] = completed - observation.completed === 1;
        }
        next.completed = completed;
    }
    return next;
}

/** The containers of the pods a DaemonSet makes: its pod template's. */
export interface PodTemplate {
    initContainers: { name: string; image?: string }[];
    containers: { name: string; image?: string }[];
}

/**
 * The Pod a row and the observation of it stand for, in the shape the presence rules read (as
 * projectPod leaves a whole one): the init containers seen completed terminated with reason
 * Completed (their start and end at the observed time where it is exact, for the pull report),
 * the others waiting, and the main container running once the row says so.
 */
export function podFromRow(row: Row, template: PodTemplate, ownerUid: string, observation: PodObservation): Pod {
    const at = (k: number) =>
        observation.exact[k] && observation.firstSeen[k] !== undefined
            ? new Date(observation.firstSeen[k]!).toISOString()
            : undefined;
    const initContainerStatuses = template.initContainers.map((c, i) => ({
        name: c.name,
        image: c.image ?? "",
        imageID: "",
        ready: false,
        restartCount: 0,
        state:
            i < observation.completed
                ? { terminated: { exitCode: 0, reason: "Completed", startedAt: at(i + 1), finishedAt: at(i + 1) } }
                : { waiting: { reason: "PodInitializing" } },
    }));
    const running = observation.running;
    const containerStatuses = template.containers.map((c) => ({
        name: c.name,
        image: c.image ?? "",
        imageID: "",
        ready: running,
        restartCount: 0,
        state: running ? { running: {} } : { waiting: { reason: "PodInitializing" } },
    }));
    // Container states only once the kubelet reported some (it reports them all at once).
    const reported = observation.completed > 0 || /^Init:\d+\//.test(row.cells.Status ?? "");
    return {
        metadata: {
            name: row.metadata.name,
            namespace: row.metadata.namespace,
            resourceVersion: row.metadata.resourceVersion,
            deletionTimestamp: observation.terminating ? new Date(0) : undefined,
            ownerReferences: [{ apiVersion: "apps/v1", kind: "DaemonSet", name: "", uid: ownerUid }],
        },
        spec: {
            nodeName: rowNode(row),
            initContainers: template.initContainers.map((c) => ({ name: c.name, image: c.image })),
            containers: template.containers.map((c) => ({ name: c.name, image: c.image })),
        },
        status: {
            phase: running ? "Running" : "Pending",
            ...(reported ? { initContainerStatuses, containerStatuses } : {}),
        },
    };
}

/**
 * The DaemonSet a pod of one of these DaemonSets belongs to, by name: the controller names its
 * pods `<daemonset>-<5 characters>` (generateName; DaemonSet names here are at most 54
 * characters, so never cut).
 */
export function podDaemonSet(podName: string, daemonSetNames: readonly string[]): string | undefined {
    const match = /^(.*)-[a-z0-9]{5}$/.exec(podName);
    return match && daemonSetNames.includes(match[1]!) ? match[1] : undefined;
}

/**
 * A node row's STATUS ("Ready", "NotReady", "Unknown", each maybe with ",SchedulingDisabled"),
 * as printNode derives it from the Ready condition and the cordon.
 */
export function nodeStatusCell(node: Node): string {
    const ready = (node.status?.conditions ?? []).find((c) => c.type === "Ready");
    const status = !ready ? "Unknown" : ready.status === "True" ? "Ready" : "NotReady";
    return node.spec?.unschedulable ? `${status},SchedulingDisabled` : status;
}

/**
 * A node changed as its row says: its Ready condition and cordon set from the STATUS column
 * (exactly what printNode read them from), or undefined when the row shows nothing new. The
 * caller reads the changed node in full too (its taints may have changed with its readiness).
 */
export function nodeRowChange(node: Node, row: Row): Node | undefined {
    const cell = row.cells.Status ?? "";
    if (cell === nodeStatusCell(node)) return undefined;
    const [readiness = "", ...rest] = cell.split(",");
    const unschedulable = rest.includes("SchedulingDisabled");
    // printNode prints NotReady for a Ready condition that is False or Unknown (neither is ready),
    // and Unknown for a node without one.
    const others = (node.status?.conditions ?? []).filter((c) => c.type !== "Ready");
    const conditions =
        readiness === "Unknown"
            ? others
            : [...others, { type: "Ready", status: readiness === "Ready" ? "True" : "False" }];
    return {
        ...node,
        metadata: { ...node.metadata, resourceVersion: row.metadata.resourceVersion ?? node.metadata?.resourceVersion },
        spec: { ...node.spec, unschedulable: unschedulable || undefined },
        status: { ...node.status, conditions },
    };
}
