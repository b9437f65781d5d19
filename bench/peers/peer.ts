/** What a measured pre-pull reports to bench/run-one.ts while it runs. */
export interface PeerRun {
    /** Presence is decided (the peer would now let the hub start): the traffic so far is "while waiting". */
    detected(): void;
    /** Figures particular to this peer (seconds, megabytes, bytes), recorded beside the common ones. */
    extra: Record<string, number>;
}
