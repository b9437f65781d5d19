exports.handler = __f0;

var __obj = {diff: __f1, create: __f2, update: __f3, delete: __f4};

function __f1(__0, __1, __2) {
  return (function() {
    with({ this: undefined, arguments: undefined }) {

return async function /*diff*/(_id, olds, news) {
        const changes = ["namespace", "ownerId", "kubeconfig", "context"].some((k) => olds[k] !== news[k]);
        return { changes, replaces: [], deleteBeforeReplace: false };
    };

    }
  }).apply(undefined, undefined).apply(this, arguments);
}

function __resourceId(__0) {
  return (function() {
    with({ resourceId: __resourceId, this: undefined, arguments: undefined }) {

return function /*resourceId*/(inputs) {
    return `${inputs.namespace}/${inputs.ownerId}`;
};

    }
  }).apply(undefined, undefined).apply(this, arguments);
}
const inputs_1 = require("pulumi-image-prepuller/dist/components/inputs.js");

function __f2(__0) {
  return (function() {
    with({ resourceId: __resourceId, this: undefined, arguments: undefined }) {

return async function /*create*/(inputs) {
        return {
            id: resourceId({ namespace: inputs.namespace ?? inputs_1.DEFAULT_NAMESPACE, ownerId: inputs.ownerId }),
            outs: inputs,
        };
    };

    }
  }).apply(undefined, undefined).apply(this, arguments);
}

function __f3(__0, __1, __2) {
  return (function() {
    with({ this: undefined, arguments: undefined }) {

return async function /*update*/(_id, _olds, news) {
        return { outs: news };
    };

    }
  }).apply(undefined, undefined).apply(this, arguments);
}

function __log(__0) {
  return (function() {
    with({ log: __log, this: undefined, arguments: undefined }) {

return function /*log*/(line) {
    console.log(line);
};

    }
  }).apply(undefined, undefined).apply(this, arguments);
}
const __pulumi_closure_import_exports = require("pulumi-image-prepuller/dist/components/provider.js");
const prepull_1 = require("pulumi-image-prepuller/dist/components/prepull.js");
const continuous_1 = require("pulumi-image-prepuller/dist/components/continuous.js");

function __f4(__0, __1) {
  return (function() {
    with({ exports: __pulumi_closure_import_exports, log: __log, this: undefined, arguments: undefined }) {

return async function /*delete*/(id, props) {
        const owned = { ...props, namespace: props?.namespace ?? inputs_1.DEFAULT_NAMESPACE };
        await exports.prePullProvider.delete(id, owned);
        // Versions before 0.2 kept the continuous puller as a dynamic resource of this owner.
        if (owned.ownerId) {
            await (0, prepull_1.removeOwnedObjects)({ ...owned, ownerId: (0, continuous_1.legacyContinuousOwnerId)(owned.ownerId) }, log);
        }
    };

    }
  }).apply(undefined, undefined).apply(this, arguments);
}

function __f0() {
  return (function() {
    with({ obj: __obj, this: undefined, arguments: undefined }) {

return () => obj;

    }
  }).apply(undefined, undefined).apply(this, arguments);
}
