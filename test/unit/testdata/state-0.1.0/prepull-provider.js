exports.handler = __f0;

var __obj = {check: __checkInputs, diff: __f1, create: __f2, update: __f3, read: __f4, delete: __f5};

function __newOwnerId() {
  return (function() {
    with({ newOwnerId: __newOwnerId, this: undefined, arguments: undefined }) {

return function /*newOwnerId*/() {
    return `prepull-${require("crypto").randomBytes(5).toString("hex")}`;
};

    }
  }).apply(undefined, undefined).apply(this, arguments);
}
const inputs_1 = require("pulumi-image-prepuller/dist/components/inputs.js");

function __containsUnknown(__0) {
  return (function() {
    with({ containsUnknown: __containsUnknown, this: undefined, arguments: undefined }) {

return function /*containsUnknown*/(value) {
    if (value === inputs_1.UNKNOWN_VALUE)
        return true;
    if (Array.isArray(value))
        return value.some(containsUnknown);
    if (value !== null && typeof value === "object")
        return Object.values(value).some(containsUnknown);
    return false;
};

    }
  }).apply(undefined, undefined).apply(this, arguments);
}
const kube_1 = require("pulumi-image-prepuller/dist/components/kube.js");

function __checkInputs(__0, __1) {
  return (function() {
    with({ newOwnerId: __newOwnerId, containsUnknown: __containsUnknown, checkInputs: __checkInputs, this: undefined, arguments: undefined }) {

return async function /*checkInputs*/(olds, news) {
    const { inputs, failures } = (0, inputs_1.normalizeInputs)(news, olds, newOwnerId);
    const kubeconfig = inputs.kubeconfig;
    if (kubeconfig !== undefined && !containsUnknown(kubeconfig) && !containsUnknown(inputs.context)) {
        // Offline: parses the kubeconfig (or reads the file) without contacting the cluster.
        try {
            (0, kube_1.loadKubeConfig)((0, kube_1.loadClientLibrary)(), kubeconfig, inputs.context);
        }
        catch (e) {
            const message = e.message;
            const property = message.startsWith("context:") ? "context" : "kubeconfig";
            failures.push({ property, reason: message.replace(/^(kubeconfig|context): /, "") });
        }
    }
    else if (kubeconfig === undefined &&
        inputs.context !== undefined &&
        (0, kube_1.looksLikeKubeconfigContents)(inputs.context)) {
        failures.push({ property: "context", reason: "must be a context name, not kubeconfig contents" });
    }
    return { inputs, failures };
};

    }
  }).apply(undefined, undefined).apply(this, arguments);
}

function __canonicalJson(__0) {
  return (function() {
    with({ canonicalJson: __canonicalJson, this: undefined, arguments: undefined }) {

return function /*canonicalJson*/(value) {
    return JSON.stringify(value, (_key, v) => v !== null && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
        : v);
};

    }
  }).apply(undefined, undefined).apply(this, arguments);
}

function __changedProperties(__0, __1) {
  return (function() {
    with({ containsUnknown: __containsUnknown, canonicalJson: __canonicalJson, changedProperties: __changedProperties, this: undefined, arguments: undefined }) {

return function /*changedProperties*/(olds, news) {
    return [...inputs_1.PULL_PROPERTIES, ...inputs_1.OPERATIONAL_PROPERTIES].filter((key) => containsUnknown(news[key]) || canonicalJson(olds[key] ?? null) !== canonicalJson(news[key] ?? null));
};

    }
  }).apply(undefined, undefined).apply(this, arguments);
}

function __hasDrift(__0) {
  return (function() {
    with({ hasDrift: __hasDrift, this: undefined, arguments: undefined }) {

return function /*hasDrift*/(olds) {
    const missing = olds.missingNodes;
    return missing !== null && typeof missing === "object" && Object.keys(missing).length > 0;
};

    }
  }).apply(undefined, undefined).apply(this, arguments);
}

function __f1(__0, __1, __2) {
  return (function() {
    with({ changedProperties: __changedProperties, hasDrift: __hasDrift, this: undefined, arguments: undefined }) {

return async function /*diff*/(_id, olds, news) {
        const changed = changedProperties(olds, news);
        return { changes: changed.length > 0 || hasDrift(olds), replaces: [], deleteBeforeReplace: false };
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

function __resourceId(__0) {
  return (function() {
    with({ resourceId: __resourceId, this: undefined, arguments: undefined }) {

return function /*resourceId*/(inputs) {
    return `${inputs.namespace}/${inputs.ownerId}`;
};

    }
  }).apply(undefined, undefined).apply(this, arguments);
}
const prepull_1 = require("pulumi-image-prepuller/dist/components/prepull.js");

function __f2(__0) {
  return (function() {
    with({ log: __log, resourceId: __resourceId, this: undefined, arguments: undefined }) {

return async function /*create*/(inputs) {
        const result = await (0, prepull_1.prePull)(inputs, log);
        return { id: resourceId(inputs), outs: { ...inputs, ...result } };
    };

    }
  }).apply(undefined, undefined).apply(this, arguments);
}

function __removeIfMoved(__0, __1, __2) {
  return (function() {
    with({ log: __log, removeIfMoved: __removeIfMoved, this: undefined, arguments: undefined }) {

return async function /*removeIfMoved*/(olds, news, remove) {
    if (olds.namespace && olds.ownerId && (olds.namespace !== news.namespace || olds.ownerId !== news.ownerId)) {
        await remove({ namespace: olds.namespace, ownerId: olds.ownerId, kubeconfig: news.kubeconfig, context: news.context }, log);
    }
};

    }
  }).apply(undefined, undefined).apply(this, arguments);
}

function __f3(__0, __1, __2) {
  return (function() {
    with({ changedProperties: __changedProperties, hasDrift: __hasDrift, removeIfMoved: __removeIfMoved, log: __log, this: undefined, arguments: undefined }) {

return async function /*update*/(_id, olds, news) {
        const pullChanged = changedProperties(olds, news).some((k) => inputs_1.PULL_PROPERTIES.includes(k));
        if (!pullChanged && !hasDrift(olds)) {
            // Only how we connect or wait changed: record it, nothing to pull.
            const previous = {
                nodes: olds.nodes ?? [],
                skipped: olds.skipped ?? true,
                durationSeconds: olds.durationSeconds ?? 0,
                missingNodes: {},
            };
            return { outs: { ...news, ...previous } };
        }
        await removeIfMoved(olds, news, prepull_1.removeOwnedObjects);
        const result = await (0, prepull_1.prePull)(news, log);
        return { outs: { ...news, ...result } };
    };

    }
  }).apply(undefined, undefined).apply(this, arguments);
}

function __f4(__0, __1) {
  return (function() {
    with({ this: undefined, arguments: undefined }) {

return async function /*read*/(id, props) {
        if (!props || !Array.isArray(props.images)) {
            return { id, props: props ?? {} };
        }
        const now = await (0, prepull_1.inspectPresence)(props);
        return { id, props: { ...props, nodes: now.nodes, missingNodes: now.missingNodes } };
    };

    }
  }).apply(undefined, undefined).apply(this, arguments);
}

function __splitResourceId(__0) {
  return (function() {
    with({ splitResourceId: __splitResourceId, this: undefined, arguments: undefined }) {

return function /*splitResourceId*/(id) {
    return id.includes("/") ? id.split("/", 2) : [undefined, undefined];
};

    }
  }).apply(undefined, undefined).apply(this, arguments);
}

function __f5(__0, __1) {
  return (function() {
    with({ splitResourceId: __splitResourceId, log: __log, this: undefined, arguments: undefined }) {

return async function /*delete*/(id, props) {
        const [idNamespace, idOwner] = splitResourceId(id);
        const namespace = props?.namespace ?? idNamespace;
        const ownerId = props?.ownerId ?? idOwner;
        if (!namespace || !ownerId)
            return;
        await (0, prepull_1.removeOwnedObjects)({ namespace, ownerId, kubeconfig: props?.kubeconfig, context: props?.context }, log);
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
