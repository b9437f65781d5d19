/**
 * Kubernetes objects as this library receives them. Their shapes are @kubernetes/client-node's
 * models; only the timestamps differ: client-node's typed calls (lists, reads) turn them into
 * Date objects, but watch events, plain JSON and YAML (and so fixtures) carry the API's ISO 8601
 * strings. Type-only: nothing of client-node is loaded here, and none of these types is public
 * (see ./public-types).
 */
import type { CoreV1Event, V1Node, V1Pod, V1Taint } from "@kubernetes/client-node" with { "resolution-mode": "import" };

/** `T` with each timestamp (a Date in client-node's models) either a Date or the ISO 8601 string of the API. */
export type Wire<T> = T extends Date
    ? Date | string
    : T extends readonly (infer E)[]
      ? Wire<E>[]
      : T extends object
        ? { [K in keyof T]: Wire<T[K]> }
        : T;

export type Node = Wire<V1Node>;
export type Taint = Wire<V1Taint>;
export type Pod = Wire<V1Pod>;
/** A core/v1 Event (events.k8s.io/v1 events are served under this shape too). */
export type Event = Wire<CoreV1Event>;
