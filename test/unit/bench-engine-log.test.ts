/**
 * The no-op benchmark reads the dynamic-provider host's start from the engine's log: the lines
 * here keep the shapes of a real `pulumi up --logtostderr -v=7` (Pulumi 3.259), shortened.
 */
import * as assert from "node:assert/strict";
import { hostStartFromEngineLog } from "../../bench/engine-log";

const STACK = "urn:pulumi:dev::consumer";
const line = (time: string, msg: string) =>
    JSON.stringify({ time: `2026-12-07T19:30:${time}Z`, level: "INFO", msg, v: 7 });

function noopLog(hostDiffAt: string, extra: string[] = []): string {
    return [
        line(
            "06.528",
            `ProviderRegistry.Check(${STACK}::pulumi:providers:kubernetes::cluster) executing (#olds=3,#news=3)`,
        ),
        line(
            "06.595",
            `ProviderRegistry.Diff(${STACK}::pulumi:providers:kubernetes::cluster,7ab2): executing (#old=3,#new=3)`,
        ),
        line(
            "06.611",
            `Provider[0xc0].Check(${STACK}::kubernetes:core/v1:Namespace::namespace) executing (#olds=3,#news=3)`,
        ),
        "not json: a line the plugin wrote",
        line(
            "06.688",
            `ProviderRegistry.Check(${STACK}::pulumi:providers:pulumi-nodejs::default) executing (#olds=3,#news=3)`,
        ),
        line("06.689", "newPlugin(): Launching plugin 'pulumi-nodejs (resource)'"),
        ...extra,
        line(
            hostDiffAt,
            `ProviderRegistry.Diff(${STACK}::pulumi:providers:pulumi-nodejs::default,ce01): executing (#old=3,#new=3)`,
        ),
        line(
            "07.300",
            `ProviderRegistry.Diff(${STACK}::pulumi:providers:pulumi-nodejs::default,ce01): executed (1, [], [])`,
        ),
        line(
            "07.301",
            `Provider[0xd0].Check(${STACK}::image-prepuller:index:ImagePrePuller$pulumi-nodejs:dynamic/image-prepuller:PrePull::user-images) executing (#olds=20,#news=20)`,
        ),
    ].join("\n");
}

describe("bench: the dynamic-provider host's start in an engine log", () => {
    it("is the time from the default pulumi-nodejs provider's Check to its Diff", () => {
        assert.deepEqual(hostStartFromEngineLog(noopLog("07.224")), { seconds: 0.536, otherStepsMeanwhile: 0 });
    });

    it("counts the other resources the engine checked or diffed meanwhile", () => {
        const meanwhile = [
            line(
                "06.900",
                `Provider[0xc0].Check(${STACK}::kubernetes:apps/v1:Deployment::hub) executing (#olds=4,#news=4)`,
            ),
            line(
                "06.950",
                `Provider[0xc0].Diff(${STACK}::kubernetes:apps/v1:Deployment::hub,ns/hub): executing (#oldInputs=4)`,
            ),
            line("06.960", `Provider[0xc0].Diff(${STACK}::kubernetes:apps/v1:Deployment::hub,ns/hub): executed (1)`),
        ];
        assert.deepEqual(hostStartFromEngineLog(noopLog("07.224", meanwhile)), {
            seconds: 0.536,
            otherStepsMeanwhile: 2,
        });
    });

    it("starts only at the host's Check: a Diff of the provider before it is not its start", () => {
        const earlyDiff = line(
            "06.000",
            `ProviderRegistry.Diff(${STACK}::pulumi:providers:pulumi-nodejs::default,ce01): executing (#old=3,#new=3)`,
        );
        assert.deepEqual(hostStartFromEngineLog(`${earlyDiff}\n${noopLog("07.224")}`), {
            seconds: 0.536,
            otherStepsMeanwhile: 0,
        });
    });

    it("is absent from a log in which the host did not start", () => {
        const withoutHost = noopLog("07.224")
            .split("\n")
            .filter((l) => !l.includes("pulumi-nodejs::default"))
            .join("\n");
        assert.equal(hostStartFromEngineLog(withoutHost), undefined);
    });
});
