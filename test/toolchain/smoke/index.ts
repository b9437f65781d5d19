// A dynamic resource whose create() logs and returns outputs; one input is secret.
import * as pulumi from "@pulumi/pulumi";

interface EchoInputs {
  message: string;
  token: string;
}

const echoProvider: pulumi.dynamic.ResourceProvider<EchoInputs> = {
  async create(inputs: EchoInputs): Promise<pulumi.dynamic.CreateResult> {
    console.log(`SMOKE-CREATE-LOG message=${inputs.message}`);
    return {
      id: `echo-${inputs.message}`,
      outs: { message: inputs.message, token: inputs.token, length: inputs.message.length },
    };
  },
  async diff(_id: string, olds: EchoInputs, news: EchoInputs): Promise<pulumi.dynamic.DiffResult> {
    const changed = olds.message !== news.message || olds.token !== news.token;
    return { changes: changed, replaces: olds.message !== news.message ? ["message"] : [] };
  },
  async delete(id: string): Promise<void> {
    console.log(`SMOKE-DELETE-LOG id=${id}`);
  },
};

class Echo extends pulumi.dynamic.Resource {
  declare public readonly message: pulumi.Output<string>;
  declare public readonly length: pulumi.Output<number>;
  constructor(name: string, args: { message: pulumi.Input<string>; token: pulumi.Input<string> }) {
    super(echoProvider, name, { ...args, length: undefined }, {});
  }
}

const config = new pulumi.Config();
const echo = new Echo("echo", {
  message: config.get("message") ?? "hello",
  token: pulumi.secret("smoke-secret-value-42"),
});

export const message = echo.message;
export const length = echo.length;
