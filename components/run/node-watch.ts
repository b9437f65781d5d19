/**
 * The nodes a run decides on: listed once in full (pages of plain JSON, which the apiserver
 * gzips, each node projected at once to what eligibility and presence read), then watched as
 * Table rows (see rules/rows.ts). A kubelet rewrites its Node at every image it pulls and every
 * 5 minutes; as rows, those writes cost a few hundred bytes each instead of a whole Node.
 *
 * A node is read in full again when what a row cannot show may have changed what the run decides:
 * - the watch adds it (a node joins);
 * - its row shows another readiness or cordon (the node is changed from the row at once, and its
 *   taints follow its readiness);
 * - it is ineligible only for a taint, at every change of its row: a joining node's
 *   `not-ready` taint goes a moment after it turns Ready, a pressure taint when the pressure ends;
 * - a pod of the run on it shows a problem (`refresh`): a node under disk pressure is dropped, not
 *   failed for its pull errors.
 * A node that leaves the watch (deleted, or relabeled out of the nodeSelector, which the list and
 * the watch select by) is read to tell which. Otherwise a node's labels, taints and image list are those of its last
 * full read: during the wait, presence comes from the pods' evidence, which shows a pull before
 * the kubelet lists it anyway (up to 40 s later). What that leaves unseen until the node's next
 * read: a taint or label change of a node that stays Ready and uncordoned (README, "What the
 * pre-puller watches").
 */
import type { ClusterClient, ListPage } from "../cluster/client";
import { watchObjects, type Watched } from "../cluster/watch";
import { ineligibilityReason, nodeLabelSelector, type SchedulingConstraints } from "../rules/eligibility";
import { projectNode } from "../rules/projection";
import type { ImageReference } from "../rules/references";
import { NODE_COLUMNS, nodeRowChange, nodeStatusCell, TABLE_ACCEPT, tableRows, type Row } from "../rules/rows";
import type { Node } from "../rules/wire";

/**
 * Nodes are listed 50 at a time: a page is parsed whole (0.5-1 MB of JSON), and a smaller page
 * leaves less for V8 to keep alive at once, so that listing a large cluster grows the process less;
 * each page is still large enough for the apiserver to gzip (over 128 KB).
 */
const NODE_PAGE_SIZE = 50;

export interface NodeWatch extends Watched<Node> {
    /** Reads this node in full again (a pod of the run on it shows a problem). */
    refresh(name: string): void;
}

export async function watchNodes(
    cluster: ClusterClient,
    images: readonly ImageReference[],
    constraints: SchedulingConstraints,
    onChange: () => void,
): Promise<NodeWatch> {
    const nodes = new Map<string, Node>();
    let listed: Node[] | undefined;
    const setNode = (name: string, node: Node) => {
        nodes.set(name, node);
        listed = undefined;
    };
    const dropNode = (name: string) => {
        if (nodes.delete(name)) listed = undefined;
    };
    let columns: readonly string[] | undefined;
    let readTrouble: string | undefined;
    const inFlight = new Set<string>();
    const again = new Set<string>();
    const rowOf = (node: Node): Row => ({
        metadata: { name: node.metadata?.name ?? "", resourceVersion: node.metadata?.resourceVersion },
        cells: { Name: node.metadata?.name ?? "", Status: nodeStatusCell(node) },
    });
    const read = async (name: string): Promise<void> => {
        if (inFlight.has(name)) {
            again.add(name);
            return;
        }
        inFlight.add(name);
        try {
            // A list of the one node: the same bytes as a get, and no RBAC verb beyond list and watch.
            const found = await cluster.call({ verb: "list", resource: "nodes" }, () =>
                cluster.getJson<ListPage<Node>>("/api/v1/nodes", { fieldSelector: `metadata.name=${name}` }),
            );
            const node = found.items?.[0];
            if (node) setNode(name, projectNode(node, images));
            else dropNode(name);
            readTrouble = undefined;
            onChange();
        } catch (e) {
            readTrouble = (e as Error).message.replace(/^image-prepuller: /, "");
        } finally {
            inFlight.delete(name);
            if (again.delete(name) && !cluster.signal.aborted) void read(name);
        }
    };
    // Only nodes the nodeSelector selects can be eligible: the list and the watch ask for those.
    const labelSelector = nodeLabelSelector(constraints);
    const rowArrived = (row: Row) => {
        const name = row.metadata.name;
        const known = nodes.get(name);
        if (!known) {
            void read(name);
            return;
        }
        const changed = nodeRowChange(known, row);
        if (changed) setNode(name, changed);
        if (changed || ineligibilityReason(known, constraints) === "untolerated-taint") void read(name);
    };
    const watched = await watchObjects<Row>(cluster, {
        path: "/api/v1/nodes",
        call: { verb: "list", resource: "nodes" },
        listPage: async (page) => {
            const list = await cluster.getJson<ListPage<Node> & { metadata?: { continue?: string } }>("/api/v1/nodes", {
                labelSelector,
                limit: page.limit,
                continue: page._continue,
            });
            const rows: Row[] = [];
            for (const item of list.items ?? []) {
                const node = projectNode(item, images);
                const name = node.metadata?.name;
                if (!name) continue;
                setNode(name, node);
                rows.push(rowOf(node));
            }
            return {
                items: rows,
                metadata: { resourceVersion: list.metadata?.resourceVersion, _continue: list.metadata?.continue },
            };
        },
        pageSize: NODE_PAGE_SIZE,
        labelSelector,
        accept: TABLE_ACCEPT,
        query: { includeObject: "None" },
        project: (table) => {
            const parsed = tableRows(table, columns, NODE_COLUMNS);
            columns = parsed.columns;
            return parsed.rows[0];
        },
        onEvent: (change, row) => {
            // Deleted, or relabeled out of the selection: a read tells which (and why it left).
            if (change === "delete") void read(row.metadata.name);
            else rowArrived(row);
        },
        onChange,
    });
    return {
        // The same array until something changes: the wait loop's memo keys on it.
        list: () => (listed ??= [...nodes.values()]),
        fatalError: () => watched.fatalError(),
        trouble: () => watched.trouble() ?? readTrouble,
        stop: () => watched.stop(),
        refresh: (name) => {
            if (nodes.has(name) && !cluster.signal.aborted) void read(name);
        },
    };
}
