/** A separate process running one provider create, so that tests can SIGKILL it mid-flight. */
import { prePullProvider } from "../../components/pulumi/provider";

const inputs = JSON.parse(process.env.PREPULL_INPUTS ?? "{}");
prePullProvider.create(inputs).then(
    () => console.log("CREATE-DONE"),
    (e: Error) => {
        console.error(`CREATE-FAILED ${e.message}`);
        process.exit(1);
    },
);
