'use strict';
/*
 * Test Open Service Broker for dtk-operator, built on @sap/sbf.
 *
 * SBF serves every /v2 endpoint (basic auth, X-Broker-API-Version check,
 * originating identity parsing, request validation, status codes). SBF is
 * stateless, so the hooks below keep instances, bindings and asynchronous
 * operations in memory. A thin Express layer in front of SBF adds what SBF's
 * hooks cannot express: a record of what the client sent, faults that a
 * well-behaved broker never produces (malformed bodies, other 2xx codes,
 * dropped connections), the CamelCase `error` field in error bodies, the
 * echo of X-Broker-API-Request-Identity, and an optional bearer token
 * (an "out-of-band agreement" that is translated to SBF's basic auth).
 *
 * Usage: node server.js [--port N] [--port-file PATH] [--tls-cert PEM
 *        --tls-key PEM] [--user NAME] [--parent-pid PID]
 * Environment: DTK_BROKER_PASSWORD (required), DTK_BROKER_TOKEN (optional).
 * Listens on 127.0.0.1 only. Prints "dtk-test-broker listening on PORT".
 *
 * Control parameters (in provision/update/bind `parameters`):
 *   fail: true         sync plan: the instance/binding is stored and the
 *                      reply is 500 (an orphan); async plan: the operation
 *                      ends "failed".
 *   delay_seconds: N   sync plan: the reply comes N seconds late (the
 *                      instance is stored first).
 *   polls: N           async plan: last_operation answers "in progress" N
 *                      times (default 1) with Retry-After: 1.
 *
 * Test endpoints (no auth, loopback only):
 *   GET /test/state, GET|DELETE /test/requests, POST|DELETE /test/faults,
 *   POST /test/reset.
 */

const fs = require('fs');
const http = require('http');
const https = require('https');
const express = require('express');

function parseArgs(argv) {
    const out = {port: 0, user: 'broker'};
    for (let i = 0; i < argv.length; i++) {
        const key = argv[i];
        const value = argv[i + 1];
        switch (key) {
        case '--port': out.port = Number(value); i++; break;
        case '--port-file': out.portFile = value; i++; break;
        case '--tls-cert': out.tlsCert = value; i++; break;
        case '--tls-key': out.tlsKey = value; i++; break;
        case '--user': out.user = value; i++; break;
        case '--parent-pid': out.parentPid = Number(value); i++; break;
        default:
            console.error(`dtk-test-broker: unknown argument ${key}`);
            process.exit(2);
        }
    }
    return out;
}

const args = parseArgs(process.argv.slice(2));
const password = process.env.DTK_BROKER_PASSWORD;
const bearerToken = process.env.DTK_BROKER_TOKEN || '';
if (!password) {
    console.error('dtk-test-broker: DTK_BROKER_PASSWORD is not set');
    process.exit(2);
}
// Keep the secrets out of the environment SBF and its libraries can see.
delete process.env.DTK_BROKER_PASSWORD;
delete process.env.DTK_BROKER_TOKEN;
process.env.SBF_ENABLE_AUDITLOG = 'false';

const Broker = require('@sap/sbf');
const catalog = JSON.parse(fs.readFileSync(`${__dirname}/catalog.json`, 'utf8'));

const ASYNC_PLANS = new Set(['plan-async']);
const MAX_RECORDS = 2000;

let state;
let records;
let faults;
let seq;

function reset() {
    state = {instances: new Map(), bindings: new Map(), ops: new Map()};
    records = [];
    faults = [];
    seq = 0;
}
reset();

/* ---- helpers ---------------------------------------------------------- */

function osbError(status, code, description, req) {
    const err = new Error(description);
    err.statusCode = status;
    if (code && req) {
        req.osbErrorCode = code;
    }
    return err;
}

function canonical(value) {
    if (Array.isArray(value)) {
        return `[${value.map(canonical).join(',')}]`;
    }
    if (value && typeof value === 'object') {
        return `{${Object.keys(value).sort().map(
            (k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
    }
    return JSON.stringify(value === undefined ? null : value);
}

function isAsyncPlan(planId) {
    return ASYNC_PLANS.has(planId);
}

function findPlan(planId) {
    for (const service of catalog.services) {
        for (const plan of service.plans) {
            if (plan.id === planId) {
                return plan;
            }
        }
    }
    return null;
}

function newOp(kind, instanceId, bindingId, parameters) {
    seq += 1;
    // Characters that must be percent-encoded when echoed in a query.
    const id = `${kind}/${seq} a&b=c#d%`;
    const polls = parameters && Number.isInteger(parameters.polls) ? parameters.polls : 1;
    const op = {
        id, kind, instance_id: instanceId, binding_id: bindingId || null,
        polls_left: polls, fail: Boolean(parameters && parameters.fail),
        state: 'in progress', description: `${kind} in progress`,
    };
    state.ops.set(id, op);
    return op;
}

function requireAsync(params, req) {
    if (isAsyncPlan(params.plan_id) && params.accepts_incomplete !== 'true') {
        return osbError(422, 'AsyncRequired', 'This plan requires accepts_incomplete=true', req);
    }
    return null;
}

function later(params, cb, fn) {
    const p = params.parameters || {};
    const ms = typeof p.delay_seconds === 'number' ? p.delay_seconds * 1000 : 0;
    if (ms > 0) {
        setTimeout(fn, ms);
    } else {
        fn();
    }
}

/* Moves an operation forward by one poll and applies its effect at the end. */
function advance(op) {
    if (op.state !== 'in progress') {
        return op;
    }
    if (op.polls_left > 0) {
        op.polls_left -= 1;
        return op;
    }
    const inst = state.instances.get(op.instance_id);
    const binding = op.binding_id ? state.bindings.get(op.binding_id) : null;
    if (op.fail) {
        op.state = 'failed';
        op.description = `injected failure of ${op.kind}`;
    } else {
        op.state = 'succeeded';
        op.description = `${op.kind} succeeded`;
    }
    switch (op.kind) {
    case 'provision':
        if (inst) {
            inst.status = op.fail ? 'failed' : 'ready';
        }
        break;
    case 'update':
        if (inst) {
            if (!op.fail && op.pending) {
                Object.assign(inst, op.pending);
            }
            inst.status = 'ready';
        }
        break;
    case 'deprovision':
        if (!op.fail) {
            state.instances.delete(op.instance_id);
        } else if (inst) {
            inst.status = 'failed';
        }
        break;
    case 'bind':
        if (binding) {
            binding.status = op.fail ? 'failed' : 'ready';
        }
        break;
    case 'unbind':
        if (!op.fail) {
            state.bindings.delete(op.binding_id);
        } else if (binding) {
            binding.status = 'failed';
        }
        break;
    default:
        break;
    }
    if (inst && inst.op === op.id) {
        inst.op = null;
    }
    if (binding && binding.op === op.id) {
        binding.op = null;
    }
    return op;
}

function busy(record) {
    return record && record.op && state.ops.get(record.op).state === 'in progress';
}

function credentialsFor(bindingId) {
    return {
        uri: `testdb://127.0.0.1:5432/${bindingId}`,
        username: `user-${bindingId}`,
        password: `pw-${bindingId}-${Math.random().toString(36).slice(2)}`,
    };
}

/* ---- hooks ------------------------------------------------------------ */

const hooks = {
    onProvision(params, cb) {
        const req = params.req;
        const id = params.instance_id;
        const p = params.parameters || {};
        const err = requireAsync(params, req);
        if (err) {
            return cb(err);
        }
        const plan = findPlan(params.plan_id);
        const wanted = params.maintenance_info && params.maintenance_info.version;
        if (wanted && plan.maintenance_info && wanted !== plan.maintenance_info.version) {
            return cb(osbError(422, 'MaintenanceInfoConflict',
                `maintenance_info.version ${wanted} does not match the plan's`, req));
        }
        const dashboard = `http://127.0.0.1/dashboard/${encodeURIComponent(id)}`;
        const existing = state.instances.get(id);
        if (existing) {
            const same = existing.service_id === params.service_id &&
                existing.plan_id === params.plan_id &&
                canonical(existing.parameters) === canonical(p);
            if (!same) {
                return cb(osbError(409, null, 'instance exists with different attributes', req));
            }
            if (busy(existing)) {
                return cb(null, {async: true, operation: existing.op, dashboard_url: dashboard});
            }
            return cb(null, {dashboard_url: dashboard});
        }
        const inst = {
            instance_id: id, service_id: params.service_id, plan_id: params.plan_id,
            parameters: p, context: params.context || null,
            organization_guid: params.organization_guid || null,
            space_guid: params.space_guid || null,
            maintenance_info: params.maintenance_info || null,
            dashboard_url: dashboard, status: 'provisioning', op: null,
        };
        state.instances.set(id, inst);
        if (isAsyncPlan(params.plan_id)) {
            const op = newOp('provision', id, null, p);
            inst.op = op.id;
            return cb(null, {async: true, operation: op.id, dashboard_url: dashboard});
        }
        later(params, cb, () => {
            if (p.fail) {
                inst.status = 'failed';
                return cb(osbError(500, null, 'injected provision failure', req));
            }
            inst.status = 'ready';
            return cb(null, {dashboard_url: dashboard});
        });
        return undefined;
    },

    onUpdate(params, cb) {
        const req = params.req;
        const inst = state.instances.get(params.instance_id);
        const err = requireAsync({...params, plan_id: inst ? inst.plan_id : params.plan_id}, req);
        if (err) {
            return cb(err);
        }
        if (!inst) {
            return cb(osbError(404, null, 'instance does not exist', req));
        }
        if (busy(inst)) {
            return cb(osbError(422, 'ConcurrencyError', 'another operation is in progress', req));
        }
        const p = params.parameters || {};
        const pending = {previous_values: params.previous_values || null};
        if (params.plan_id) {
            pending.plan_id = params.plan_id;
        }
        if (params.parameters) {
            pending.parameters = Object.assign({}, inst.parameters, params.parameters);
        }
        if (params.context) {
            pending.context = params.context;
        }
        if (isAsyncPlan(inst.plan_id)) {
            const op = newOp('update', inst.instance_id, null, p);
            op.pending = pending;
            inst.op = op.id;
            return cb(null, {async: true, operation: op.id});
        }
        if (p.fail) {
            return cb(osbError(500, null, 'injected update failure', req));
        }
        Object.assign(inst, pending);
        return cb(null, {});
    },

    onDeprovision(params, cb) {
        const req = params.req;
        const inst = state.instances.get(params.instance_id);
        if (!inst) {
            return cb(osbError(410, null, 'instance does not exist', req));
        }
        const err = requireAsync({...params, plan_id: inst.plan_id}, req);
        if (err) {
            return cb(err);
        }
        if (busy(inst)) {
            const op = state.ops.get(inst.op);
            if (op.kind === 'deprovision') {
                return cb(null, {async: true, operation: op.id});
            }
            return cb(osbError(422, 'ConcurrencyError', `${op.kind} is in progress`, req));
        }
        if (isAsyncPlan(inst.plan_id)) {
            const op = newOp('deprovision', inst.instance_id, null, null);
            inst.op = op.id;
            inst.status = 'deprovisioning';
            return cb(null, {async: true, operation: op.id});
        }
        state.instances.delete(inst.instance_id);
        return cb(null, {});
    },

    onLastOperation(params, cb) {
        const req = params.req;
        let op = params.operation ? state.ops.get(params.operation) : null;
        if (!op && !params.operation) {
            const inst = state.instances.get(params.instance_id);
            op = inst && inst.op ? state.ops.get(inst.op) : null;
        }
        if (!op || op.instance_id !== params.instance_id || op.binding_id) {
            return cb(osbError(404, null, 'no such operation for this instance', req));
        }
        advance(op);
        if (op.state === 'in progress') {
            req.res.setHeader('Retry-After', '1');
        }
        return cb(null, {state: op.state, description: op.description});
    },

    onFetchInstanceParams(params, cb) {
        const req = params.req;
        const inst = state.instances.get(params.instance_id);
        if (!inst || inst.status === 'provisioning') {
            return cb(osbError(404, null, 'instance does not exist or is being provisioned', req));
        }
        if (busy(inst)) {
            return cb(osbError(422, 'ConcurrencyError', 'the instance is being updated', req));
        }
        return cb(null, {
            service_id: inst.service_id, plan_id: inst.plan_id,
            dashboard_url: inst.dashboard_url, parameters: inst.parameters,
            maintenance_info: inst.maintenance_info || undefined,
            metadata: {labels: {origin: 'dtk-test-broker'}},
        });
    },

    onBind(params, cb) {
        const req = params.req;
        const id = params.binding_id;
        const p = params.parameters || {};
        const inst = state.instances.get(params.instance_id);
        const err = requireAsync(params, req);
        if (err) {
            return cb(err);
        }
        if (!inst || inst.status !== 'ready') {
            return cb(osbError(422, 'ConcurrencyError', 'the instance is not ready', req));
        }
        const existing = state.bindings.get(id);
        if (existing) {
            const same = existing.instance_id === params.instance_id &&
                canonical(existing.parameters) === canonical(p);
            if (!same) {
                return cb(osbError(409, null, 'binding exists with different attributes', req));
            }
            if (busy(existing)) {
                return cb(null, {async: true, operation: existing.op});
            }
            return cb(null, {credentials: existing.credentials});
        }
        const binding = {
            binding_id: id, instance_id: params.instance_id,
            service_id: params.service_id, plan_id: params.plan_id,
            parameters: p, context: params.context || null,
            bind_resource: params.bind_resource || null,
            credentials: credentialsFor(id), status: 'binding', op: null,
        };
        state.bindings.set(id, binding);
        if (isAsyncPlan(params.plan_id)) {
            const op = newOp('bind', params.instance_id, id, p);
            binding.op = op.id;
            // SBF adds "credentials": {} to this 202 on its own.
            return cb(null, {async: true, operation: op.id});
        }
        if (p.fail) {
            binding.status = 'failed';
            return cb(osbError(500, null, 'injected bind failure', req));
        }
        binding.status = 'ready';
        return cb(null, {credentials: binding.credentials,
            endpoints: [{host: '127.0.0.1', ports: ['5432']}]});
    },

    onUnbind(params, cb) {
        const req = params.req;
        const binding = state.bindings.get(params.binding_id);
        if (!binding || binding.instance_id !== params.instance_id) {
            return cb(osbError(410, null, 'binding does not exist', req));
        }
        const err = requireAsync({...params, plan_id: binding.plan_id}, req);
        if (err) {
            return cb(err);
        }
        if (busy(binding)) {
            const op = state.ops.get(binding.op);
            if (op.kind === 'unbind') {
                return cb(null, {async: true, operation: op.id});
            }
            return cb(osbError(422, 'ConcurrencyError', `${op.kind} is in progress`, req));
        }
        if (isAsyncPlan(binding.plan_id)) {
            const op = newOp('unbind', binding.instance_id, binding.binding_id, null);
            binding.op = op.id;
            return cb(null, {async: true, operation: op.id});
        }
        state.bindings.delete(binding.binding_id);
        return cb(null, {});
    },

    onBindLastOperation(params, cb) {
        const req = params.req;
        let op = params.operation ? state.ops.get(params.operation) : null;
        if (!op && !params.operation) {
            const binding = state.bindings.get(params.binding_id);
            op = binding && binding.op ? state.ops.get(binding.op) : null;
        }
        if (!op || op.binding_id !== params.binding_id) {
            return cb(osbError(404, null, 'no such operation for this binding', req));
        }
        advance(op);
        if (op.state === 'in progress') {
            req.res.setHeader('Retry-After', '1');
        }
        return cb(null, {state: op.state, description: op.description});
    },

    onFetchBindingParams(params, cb) {
        const req = params.req;
        const binding = state.bindings.get(params.binding_id);
        if (!binding || binding.status !== 'ready') {
            return cb(osbError(404, null, 'binding does not exist or is being created', req));
        }
        return cb(null, {credentials: binding.credentials, parameters: binding.parameters});
    },
};

const broker = new Broker({
    brokerCredentials: {[args.user]: password},
    catalog,
    autoCredentials: false,
    enableAuditLog: false,
    hooks,
});

/* ---- front layer: record, faults, bearer, error codes ------------------ */

const app = express();

function matchFault(req) {
    for (const rule of faults) {
        if (rule.times === 0) {
            continue;
        }
        if (rule.method && rule.method !== req.method) {
            continue;
        }
        if (rule.path && !req.path.includes(rule.path)) {
            continue;
        }
        if (rule.query && !req.originalUrl.includes(rule.query)) {
            continue;
        }
        if (rule.times > 0) {
            rule.times -= 1;
        }
        rule.hits = (rule.hits || 0) + 1;
        return rule;
    }
    return null;
}

function faultBody(rule) {
    if (typeof rule.body_size === 'number') {
        return `{"description":"${'x'.repeat(Math.max(0, rule.body_size - 18))}"}`;
    }
    return rule.body === undefined ? '' : String(rule.body);
}

function decodeIdentity(value) {
    if (!value) {
        return null;
    }
    const m = /^(\S+) (\S+)$/.exec(value);
    if (!m) {
        return {malformed: true};
    }
    try {
        return {platform: m[1], value: JSON.parse(Buffer.from(m[2], 'base64').toString('utf8'))};
    } catch (e) {
        return {platform: m[1], malformed: true};
    }
}

app.use('/v2', express.json({limit: '4mb'}));

app.use('/v2', (req, res, next) => {
    const auth = req.headers.authorization || '';
    const scheme = auth ? auth.split(' ')[0] : null;
    let user = null;
    if (scheme === 'Basic') {
        const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
        user = decoded.split(':')[0];
    }
    const record = {
        seq: records.length + 1,
        method: req.method,
        path: req.baseUrl + req.path,
        query: req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '',
        headers: {
            'x-broker-api-version': req.headers['x-broker-api-version'] || null,
            'x-broker-api-originating-identity': req.headers['x-broker-api-originating-identity'] || null,
            'x-broker-api-request-identity': req.headers['x-broker-api-request-identity'] || null,
            'content-type': req.headers['content-type'] || null,
            accept: req.headers.accept || null,
        },
        originating_identity: decodeIdentity(req.headers['x-broker-api-originating-identity']),
        auth_scheme: scheme,
        auth_user: user,
        body: req.body && Object.keys(req.body).length ? req.body : null,
        remote_port: req.socket.remotePort,
        status: null,
    };
    records.push(record);
    if (records.length > MAX_RECORDS) {
        records.shift();
    }
    res.on('finish', () => {
        record.status = res.statusCode;
    });

    // The bearer token stands for an out-of-band agreement with the
    // platform; SBF itself knows only basic auth.
    if (scheme === 'Bearer' && bearerToken && auth.slice(7) === bearerToken) {
        req.headers.authorization = `Basic ${Buffer.from(`${args.user}:${password}`).toString('base64')}`;
    }
    const requestId = req.headers['x-broker-api-request-identity'];
    if (requestId) {
        res.setHeader('X-Broker-API-Request-Identity', requestId);
    }

    const rule = matchFault(req);
    const origSend = res.send.bind(res);
    let replaced = false;
    res.send = function send(body) {
        if (rule && rule.passthrough && !replaced) {
            replaced = true;
            if (rule.status) {
                res.status(rule.status);
            }
            if (rule.retry_after !== undefined) {
                res.setHeader('Retry-After', String(rule.retry_after));
            }
            res.type(rule.content_type || 'application/json');
            return origSend(faultBody(rule));
        }
        if (req.osbErrorCode && body && typeof body === 'object' && !Buffer.isBuffer(body)) {
            const withCode = {error: req.osbErrorCode, ...body};
            req.osbErrorCode = null;
            return origSend(withCode);
        }
        return origSend(body);
    };
    if (!rule) {
        return next();
    }
    const act = () => {
        if (rule.destroy) {
            req.socket.destroy();
            return undefined;
        }
        if (rule.passthrough || !rule.status) {
            return next();
        }
        replaced = true;
        res.status(rule.status);
        if (rule.retry_after !== undefined) {
            res.setHeader('Retry-After', String(rule.retry_after));
        }
        res.type(rule.content_type || 'application/json');
        return origSend(faultBody(rule));
    };
    if (rule.delay_ms) {
        setTimeout(act, rule.delay_ms);
    } else {
        act();
    }
    return undefined;
});

const test = express.Router();
test.use(express.json());
test.get('/state', (req, res) => {
    res.json({
        instances: Object.fromEntries(state.instances),
        bindings: Object.fromEntries(
            [...state.bindings].map(([k, b]) => [k, {...b, credentials: undefined}])),
    });
});
test.get('/requests', (req, res) => res.json({requests: records}));
test.delete('/requests', (req, res) => {
    records = [];
    res.json({});
});
test.post('/faults', (req, res) => {
    const list = Array.isArray(req.body.faults) ? req.body.faults : [req.body];
    for (const rule of list) {
        faults.push({times: 1, ...rule});
    }
    res.json({faults});
});
test.get('/faults', (req, res) => res.json({faults}));
test.delete('/faults', (req, res) => {
    faults = [];
    res.json({});
});
test.post('/reset', (req, res) => {
    reset();
    res.json({});
});
app.use('/test', test);

app.use(broker.app);

/* ---- listen ----------------------------------------------------------- */

let server;
if (args.tlsCert && args.tlsKey) {
    server = https.createServer({
        cert: fs.readFileSync(args.tlsCert),
        key: fs.readFileSync(args.tlsKey),
    }, app);
} else {
    server = http.createServer(app);
}
server.keepAliveTimeout = 60000;
server.listen(args.port, '127.0.0.1', () => {
    const port = server.address().port;
    if (args.portFile) {
        fs.writeFileSync(`${args.portFile}.tmp`, `${port}\n`);
        fs.renameSync(`${args.portFile}.tmp`, args.portFile);
    }
    console.log(`dtk-test-broker listening on ${port}`);
});
server.on('error', (err) => {
    console.error(`dtk-test-broker: ${err.message}`);
    process.exit(1);
});

function stop() {
    server.close();
    process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

if (args.parentPid) {
    setInterval(() => {
        try {
            process.kill(args.parentPid, 0);
        } catch (e) {
            process.exit(0);
        }
    }, 1000).unref();
}
