/**
 * The plain JSON shapes of the Kubernetes objects this library reads and writes. Only the
 * fields we use are declared; the shapes match the API (and @pulumi/kubernetes input types),
 * so objects from any client or from YAML fit.
 */

export interface ObjectMeta {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    uid?: string;
    resourceVersion?: string;
    deletionTimestamp?: string | Date;
    creationTimestamp?: string | Date;
    ownerReferences?: { kind?: string; name?: string; uid?: string }[];
}

export interface Toleration {
    key?: string;
    operator?: string;
    value?: string;
    effect?: string;
    tolerationSeconds?: number;
}

export interface Taint {
    key: string;
    value?: string;
    effect: string;
}

export interface NodeSelectorRequirement {
    key: string;
    operator: string;
    values?: string[];
}

export interface NodeSelectorTerm {
    matchExpressions?: NodeSelectorRequirement[];
    matchFields?: NodeSelectorRequirement[];
}

export interface NodeAffinity {
    requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms: NodeSelectorTerm[] };
    preferredDuringSchedulingIgnoredDuringExecution?: { weight: number; preference: NodeSelectorTerm }[];
}

export interface Affinity {
    nodeAffinity?: NodeAffinity;
    podAffinity?: unknown;
    podAntiAffinity?: unknown;
}

export interface ContainerImage {
    names?: string[];
    sizeBytes?: number;
}

export interface NodeCondition {
    type: string;
    status: string;
    reason?: string;
    message?: string;
    lastHeartbeatTime?: string | Date;
}

export interface Node {
    metadata?: ObjectMeta;
    spec?: { unschedulable?: boolean; taints?: Taint[] };
    status?: { conditions?: NodeCondition[]; images?: ContainerImage[] };
}

export interface ContainerState {
    waiting?: { reason?: string; message?: string };
    running?: { startedAt?: string | Date };
    terminated?: {
        exitCode: number;
        reason?: string;
        message?: string;
        startedAt?: string | Date;
        finishedAt?: string | Date;
    };
}

export interface ContainerStatus {
    name: string;
    image?: string;
    imageID?: string;
    ready?: boolean;
    restartCount?: number;
    state?: ContainerState;
    lastState?: ContainerState;
}

export interface Container {
    name: string;
    image?: string;
    command?: string[];
    args?: string[];
    [field: string]: unknown;
}

export interface PodCondition {
    type: string;
    status: string;
    reason?: string;
    message?: string;
}

export interface Pod {
    metadata?: ObjectMeta;
    spec?: { nodeName?: string; initContainers?: Container[]; containers?: Container[]; affinity?: Affinity };
    status?: {
        phase?: string;
        reason?: string;
        message?: string;
        conditions?: PodCondition[];
        initContainerStatuses?: ContainerStatus[];
        containerStatuses?: ContainerStatus[];
    };
}

/** A core/v1 Event (events.k8s.io/v1 events are served under this shape too). */
export interface Event {
    metadata?: ObjectMeta;
    involvedObject?: { kind?: string; name?: string; uid?: string };
    type?: string;
    reason?: string;
    message?: string;
    count?: number;
    firstTimestamp?: string | Date;
    lastTimestamp?: string | Date;
    eventTime?: string | Date;
}
