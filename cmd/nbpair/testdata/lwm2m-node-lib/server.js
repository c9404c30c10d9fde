// A stock LwM2M server for nbpair's interoperability test: lwm2m-node-lib's
// server, unchanged, on a port the system picks (or the one given as the
// first argument), announced in the ready event.
// It reads one JSON command a line on stdin, calls the library's server API
// and writes one JSON line for each answer and event on stdout:
//
//   {"id":1,"op":"read","path":[3,0,0]}           -> {"id":1,"ok":true,"result":"nbpair"}
//   {"id":2,"op":"write","path":[33050,0,2],"value":"u_1","format":"text"}
//   {"id":3,"op":"execute","path":[3,0,4],"value":""}
//   {"id":4,"op":"discover","path":[3,0]}
//   {"id":5,"op":"writeAttributes","path":[3,0,13],"attributes":{"pmax":"1"}}
//   {"id":6,"op":"observe","path":[33050,0,1]}     then {"event":"notify",...}
//   {"id":7,"op":"cancel","path":[33050,0,1]}
//   {"id":8,"op":"format","accept":"tlv"}         Accept of later Reads
//
// Events: {"event":"ready","port":N}, {"event":"registration",...},
// {"event":"update",...}, {"event":"unregistration",...}.
'use strict';

const coap = require('coap');

// Keep the test's server on the loopback interface: lwm2m-node-lib listens
// on every address; this binds its node-coap server to 127.0.0.1 instead.
const createServer = coap.createServer;
coap.createServer = function () {
    const server = createServer.apply(this, arguments);
    const listen = server.listen;
    server.listen = function (port, done) {
        return listen.call(this, port, '127.0.0.1', done);
    };
    return server;
};

const lwm2m = require('lwm2m-node-lib').server;
const readline = require('readline');

const port = Number(process.argv[2] || 0);
const formats = {
    text: 'text/plain',
    tlv: 'application/vnd.oma.lwm2m+tlv',
    senmljson: 'application/senml+json',
    senmlcbor: 'application/senml+cbor',
};
const config = {
    port: port,
    lifetimeCheckInterval: 1000,
    udpWindow: 100,
    defaultType: 'Device',
    logLevel: 'FATAL',
    ipProtocol: 'udp4',
    serverProtocol: 'udp4',
    formats: [
        { name: formats.text, value: 0 },
        { name: 'application/link-format', value: 40 },
        { name: formats.senmljson, value: 110 },
        { name: formats.senmlcbor, value: 112 },
        { name: formats.tlv, value: 11542 },
    ],
    writeFormat: formats.text,
    defaultAcceptFormat: formats.text,
    types: [],
};

function emit(obj) {
    process.stdout.write(JSON.stringify(obj) + '\n');
}

function answer(id) {
    return function (error, result) {
        if (error) {
            emit({ id: id, ok: false, error: error.name + (error.message ? ': ' + error.message : '') });
        } else {
            emit({ id: id, ok: true, result: result === undefined ? null : String(result) });
        }
    };
}

// deviceId finds the library's ID of the one registered device.
function withDevice(id, fn) {
    lwm2m.listDevices(function (error, devices) {
        if (error || !devices || devices.length === 0) {
            emit({ id: id, ok: false, error: 'no device is registered' });
            return;
        }
        fn(devices[devices.length - 1].id);
    });
}

function run(cmd) {
    const id = cmd.id;
    const p = cmd.path || [];
    withDevice(id, function (dev) {
        switch (cmd.op) {
        case 'read':
            lwm2m.read(dev, p[0], p[1], p[2], answer(id));
            break;
        case 'write':
            config.writeFormat = formats[cmd.format || 'text'];
            lwm2m.write(dev, p[0], p[1], p[2], cmd.value, answer(id));
            break;
        case 'execute':
            lwm2m.execute(dev, p[0], p[1], p[2], cmd.value || '', answer(id));
            break;
        case 'discover':
            if (p.length === 3) {
                lwm2m.discover(dev, p[0], p[1], p[2], answer(id));
            } else if (p.length === 2) {
                lwm2m.discover(dev, p[0], p[1], answer(id));
            } else {
                lwm2m.discover(dev, p[0], answer(id));
            }
            break;
        case 'writeAttributes':
            lwm2m.writeAttributes(dev, p[0], p[1], p[2], cmd.attributes, answer(id));
            break;
        case 'observe':
            lwm2m.observe(dev, p[0], p[1], p[2], function (value, objectType, objectId, resourceId) {
                emit({ event: 'notify', path: [objectType, objectId, resourceId].join('/'), value: value });
            }, answer(id));
            break;
        case 'cancel':
            lwm2m.cancelObserver(dev, p[0], p[1], p[2], answer(id));
            break;
        case 'format':
            config.defaultAcceptFormat = formats[cmd.accept];
            emit({ id: id, ok: true, result: config.defaultAcceptFormat });
            break;
        default:
            emit({ id: id, ok: false, error: 'unknown op ' + cmd.op });
        }
    });
}

lwm2m.start(config, function (error, serverInfo) {
    if (error) {
        emit({ event: 'error', error: String(error) });
        process.exit(1);
    }
    lwm2m.setHandler(serverInfo, 'registration', function (endpoint, lifetime, version, binding, payload, callback) {
        emit({ event: 'registration', endpoint: endpoint, lifetime: lifetime, version: version, binding: binding, payload: payload });
        callback();
    });
    lwm2m.setHandler(serverInfo, 'updateRegistration', function (object, payload, callback) {
        emit({ event: 'update', endpoint: object.name });
        callback();
    });
    lwm2m.setHandler(serverInfo, 'unregistration', function (device, callback) {
        emit({ event: 'unregistration', endpoint: device && device.name });
        callback();
    });
    // The library sends its requests to devices through its own listening
    // socket (as a CoAP proxy) and so must know that socket's port: with
    // port 0 the system picked it, and node-coap keeps the socket in _sock.
    config.port = serverInfo.server._sock.address().port;
    emit({ event: 'ready', port: config.port });
    const lines = readline.createInterface({ input: process.stdin });
    lines.on('line', function (line) {
        if (line.trim() !== '') {
            run(JSON.parse(line));
        }
    });
    lines.on('close', function () {
        lwm2m.stop(serverInfo, function () {
            process.exit(0);
        });
    });
});
