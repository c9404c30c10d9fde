package main

// helpText is the help of one command: its synopsis (lines after
// "Usage: ") and what it does. The flags are listed from its flag set.
type helpText struct {
	usage, about string
}

// helpTexts holds the help of every command and subcommand, by the name of
// its flag set.
var helpTexts = map[string]helpText{
	"demo": {"nbpair demo [--label FILE] [-v]", `
Runs the whole pairing story on this machine over real sockets: a server on
SQLite in a temporary directory, a provisioned device, a simulated device
powered on over UDP, the device's label (printed in the terminal and drawn as
a PNG), the label read back and parsed, and the bind through the SDK. Prints
the ten steps of the pairing flow with the milliseconds each took, and exits
0 only if the device ends up paired and knows its owner. The temporary
directory (database, keys, label) is removed at the end; --label keeps a copy
of the label.`},
	"serve": {"nbpair serve [flags]", `
Runs the pairing cloud: LwM2M over CoAP/UDP (and DTLS-PSK) for devices, the
HTTP JSON API and the web app for apps and admins. Every setting is a flag, an
environment variable (named after each flag below) or a field of the JSON
file given with --config; flags win over the environment, which wins over the
file. 'nbpair config print-default' prints a complete file.`},
	"provision": {"nbpair provision --imei IMEI [--product ID] [--name NAME] [--label FILE] [flags]", `
Provisions one device on a running server (admin API): it gets a device ID, a
pairing ID (nbId), the short code printed under its QR, its label URL, and a
DTLS pre-shared key, shown only here. --label writes its label card.`},
	"devices": {"nbpair devices [flags]\nnbpair devices [flags] DEVICE_ID|IMEI\nnbpair devices --home NAME [flags]", `
Without an argument, lists the provisioned devices (admin API). With a device
ID or IMEI, shows that device with its registration: online, endpoint,
lifetime, address, objects. With --home, lists the devices of one of your
homes instead (as the logged-in user): name, device ID, online, last seen.`},
	"batch": {"nbpair batch import|list|export|labels [flags] [arguments]", `
Factory provisioning in batches (admin API):

  nbpair batch import [--product ID] FILE.csv   provision the devices of a CSV (columns imei, serial)
  nbpair batch list                             list the batches
  nbpair batch export ID [-o FILE.csv]          the factory CSV: IMEIs, PSKs, device IDs, nbIds, QR texts
  nbpair batch labels ID [-o FILE.png] [--page N]  the label sheets (A4, 35 labels a page)

Run 'nbpair help batch SUBCOMMAND' for a subcommand's flags.`},
	"batch import": {"nbpair batch import [--product ID] FILE.csv [flags]", `
Provisions the devices of a factory CSV (a header line with an imei column and
an optional serial column, at most 10,000 rows). All or nothing; importing the
same file again changes nothing.`},
	"batch list": {"nbpair batch list [flags]", `
Lists the batches, newest first.`},
	"batch export": {"nbpair batch export ID [-o FILE.csv] [flags]", `
Writes the factory CSV of a batch: each device's IMEI, serial, PSK identity and
PSK, device ID, nbId and QR text, for the flashing station. It holds the keys:
the file is created with mode 0600.`},
	"batch labels": {"nbpair batch labels ID [-o FILE.png] [--page N] [flags]", `
Writes the label sheets of a batch: A4 pages at 300 dpi with 35 label cards
each (QR code, product, serial, short code, URL).`},
	"webhooks": {"nbpair webhooks add|list|rm|deliveries [flags] [arguments]", `
The device maker's webhooks (admin API): each event is POSTed, signed with the
webhook's secret, until the receiver answers 2xx.

  nbpair webhooks add --url URL --events TYPE,...   subscribe; prints the signing secret once
  nbpair webhooks list                             list the webhooks
  nbpair webhooks rm ID                            delete one (and what it had still to deliver)
  nbpair webhooks deliveries ID [--limit N]        its delivery log, newest first

Run 'nbpair help webhooks SUBCOMMAND' for a subcommand's flags.`},
	"webhooks add": {"nbpair webhooks add --url URL --events TYPE,... [flags]", `
Subscribes URL to the events named: device.registered (first time),
device.online, device.offline, device.bound, device.unbound, device.transferred,
device.reset, activation.failed. Prints the webhook's ID and its signing secret, which is
shown only now: receivers check X-Nbpair-Signature = sha256=HMAC-SHA256(secret, body).`},
	"webhooks list": {"nbpair webhooks list [flags]", `
Lists the webhooks: ID, URL, events, when created.`},
	"webhooks rm": {"nbpair webhooks rm ID [flags]", `
Deletes a webhook and drops what it had still to deliver.`},
	"webhooks deliveries": {"nbpair webhooks deliveries ID [--limit N] [flags]", `
Shows a webhook's delivery log, newest first: every attempt with its event,
device, status code or error, outcome (delivered, retry, expired) and time.`},
	"device-admin": {"nbpair device-admin block|unblock|unbind|deprovision|rotate-psk [flags] DEVICE", `
The device maker's actions on one device (admin API). DEVICE is a device ID
or an IMEI. Each is in the audit log.

  nbpair device-admin block [--reason TEXT] DEVICE   refuse its Registers (CoAP 4.03) and its binds (4500)
  nbpair device-admin unblock DEVICE                 lift the block
  nbpair device-admin unbind DEVICE                  unbind it from its owner; it is told at its next wake-up
  nbpair device-admin deprovision --yes DEVICE       remove it for good; its IMEI may be provisioned again
  nbpair device-admin rotate-psk [--deadline D] DEVICE  a new DTLS key, shown once; the old one works until the device uses it

Run 'nbpair help device-admin SUBCOMMAND' for a subcommand's flags.`},
	"device-admin block": {"nbpair device-admin block [--reason TEXT] DEVICE [flags]", `
Blocks the device: its Registers are refused with CoAP 4.03 Forbidden and its
live registration ends, and nobody may bind it (error 4500 DeviceBlocked),
until it is unblocked. Blocking it again replaces the reason. Prints the
device's state.`},
	"device-admin unblock": {"nbpair device-admin unblock DEVICE [flags]", `
Lifts the device's block: it may register and be bound again.`},
	"device-admin unbind": {"nbpair device-admin unbind DEVICE [flags]", `
Unbinds the device from its owner, as a normal reset would: it keeps its data,
is told it is unbound at its next wake-up, and anyone holding its label may
pair it. Exits 1 with DeviceNotBound (4501) if it has no owner.`},
	"device-admin rotate-psk": {"nbpair device-admin rotate-psk [--deadline D] DEVICE [flags]", `
Gives the device a new DTLS pre-shared key, printed only now, for the device
maker to deliver to the device. The old key stays valid until the device
completes a handshake with the new one, or until --deadline passes; meanwhile
both work (a device's first handshake with the new key is refused once and
its retry completes). Rotating again replaces a rotation under way.`},
	"device-admin deprovision": {"nbpair device-admin deprovision --yes DEVICE [flags]", `
Removes the device for good: its registration, binding, DTLS key, queued
downlinks and activations. Its IMEI may then be provisioned again, with a new
device ID, pairing ID and key; the audit log keeps its history. It cannot be
undone, so --yes is required.`},
	"audit": {"nbpair audit [--device ID] [--user UID] [--action ACTION] [--outcome OUTCOME] [flags]", `
Reads the audit log of a running server (admin API), newest first: every
provision, key export, bind, unbind, reset, refused attempt and rate-limit hit,
with who, which device, from where, and how it ended.`},
	"device": {"nbpair device --server coap://HOST:PORT --imei IMEI [flags]", `
Simulates an NB-IoT device: registers over LwM2M, keeps the registration
fresh, answers the server's Read, Discover, Write, Write-Attributes, Execute
and Observe, and prints each state change and each request it handled
(operation, method, path, content format, answer). Stop it with Ctrl-C.`},
	"fleet": {"nbpair fleet [flags]\nnbpair fleet sweep [flags]", `
Provisions --devices devices through batch imports, runs --scenario with each
device sending from its own source address (--sources all, the default) or
from --sources N shared ones, and prints throughput, latency percentiles,
retransmissions, errors, the generator's CPU time and the server's figures
from /metrics. The pair scenario needs the server's rate limits off (serve
--rate-limit-per-user 0 --rate-limit-per-addr 0) and, to follow every
activation over an event stream, its stream caps above --devices-per-user
(--max-streams-per-user, --max-streams); with --storm-devices N it binds
--devices devices idle, then as many more while N other devices register.
Progress goes to standard
error: a live bar on a terminal, a plain line every 10 seconds otherwise.
'nbpair help fleet sweep' for the sweep.`},
	"fleet sweep": {"nbpair fleet sweep [flags]", `
Provisions and registers devices up to each of --steps; after each step
measures --sample Registers, as many echo round trips, and the server's
resident memory, and writes a CSV row. tools/benchchart draws the CSV.`},
	"signup": {"nbpair signup --username NAME --password-file FILE [flags]", `
Creates an app account on the server and logs in; the session is kept for
the commands homes, pair, devices --home and remove.`},
	"login": {"nbpair login --username NAME --password-file FILE [flags]", `
Logs in to an nbpair server; the session is kept (mode 0600) for the commands
homes, pair, devices --home and remove.`},
	"homes": {"nbpair homes [--create NAME] [flags]\nnbpair homes delete NAME|ID [flags]", `
Lists your homes with your role in each, or creates one. 'nbpair help homes
delete' for deleting one.`},
	"homes delete": {"nbpair homes delete NAME|ID [flags]", `
Deletes a home you own: every device in it is unbound (each is told the next
time it is awake) and its members lose it. NAME is matched as for pair --home.`},
	"share": {"nbpair share DEVICE USER [--access read|control] [flags]", `
Shares a device you own with the user named USER, or changes the access of
their share. With read access they see the device and its state; with control
they may also rename it. It stays yours: only you may remove, reset, share or
transfer it. DEVICE is a device ID or the name of a device in your homes.`},
	"unshare": {"nbpair unshare DEVICE USER [flags]", `
Ends the share of a device you own with USER; or, with your own username as
USER, leaves a device someone shares with you.`},
	"transfer": {"nbpair transfer DEVICE USER [--expires DURATION] [flags]", `
Offers a device you own to the user named USER. Nothing changes until they
accept it into one of their homes ('nbpair transfers accept ID'); then the
device is theirs, its shares end and it is told its new owner when next
awake. Cancel the offer with 'nbpair transfers cancel ID'.`},
	"transfers": {"nbpair transfers [flags]\nnbpair transfers accept ID [--home NAME] [flags]\nnbpair transfers decline|cancel ID [flags]", `
Lists the pending transfer offers to you and from you. accept takes a device
offered to you into one of your homes (--home; not needed when you own one
home), decline refuses it, cancel withdraws an offer you made.`},
	"transfers accept": {"nbpair transfers accept ID [--home NAME] [flags]", `
Accepts a transfer offered to you: the device moves into your home and is
yours.`},
	"transfers decline": {"nbpair transfers decline ID [flags]", `
Declines a transfer offered to you; the device stays with its owner.`},
	"transfers cancel": {"nbpair transfers cancel ID [flags]", `
Withdraws a transfer you offered.`},
	"sessions": {"nbpair sessions [flags]\nnbpair sessions revoke ID [flags]", `
Lists your logged-in sessions, most recently used first, with where and with
what they logged in; * marks this one. 'nbpair sessions revoke ID' logs one out.`},
	"sessions revoke": {"nbpair sessions revoke ID [flags]", `
Ends one of your sessions (an ID from 'nbpair sessions'): whoever holds it is
logged out.`},
	"password": {"nbpair password [flags]", `
Changes your password. On a terminal it asks for the current password and the
new one twice, without echo; otherwise it reads two lines from standard input:
the current password, then the new one. Every other session of yours ends;
this one stays.`},
	"account": {"nbpair account delete [flags]", `
Your account. 'nbpair account delete' deletes it.`},
	"account delete": {"nbpair account delete [flags]", `
Deletes your account: the homes you own are deleted and every device in them
unbound (each is told when next awake), your shares and transfer offers end,
and you are logged out; homes of others you are a member of stay. It asks for
your password and for your username as a confirmation: on a terminal without
echo, otherwise as two lines of standard input.`},
	"pair": {"nbpair pair --home NAME (--qr-image FILE | --code TEXT) [flags]", `
Pairs a device into one of your homes, as an app does: reads its label (a
photo with --qr-image, or --code with the label's URL or the short code
printed under the QR), starts the activation, and shows the time left until
the server's deadline while waiting for the device to register and bind. On
failure it says what went wrong and what to do. --home is a home's ID or name:
an exact name first, else one that differs only in case; several such homes
are an error listing them.`},
	"remove": {"nbpair remove [flags] DEVICE", `
Removes a device from its home (unbinds it); the device is told the next time
it is awake, and someone else may then pair it. DEVICE is a device ID, or the
name of a device in one of your homes (an exact name first, else one that
differs only in case; several are an error listing them).`},
	"qr": {"nbpair qr encode|decode [flags] ARGUMENT", `
QR labels:

  nbpair qr encode [--size N] [-o FILE.png] [--light] TEXT   draw TEXT's QR code as a PNG, or in the terminal without -o
  nbpair qr decode IMAGE                                     print the text of the QR code in a PNG, JPEG or GIF image

Run 'nbpair help qr encode' for encode's flags.`},
	"qr encode": {"nbpair qr encode [--size N] [-o FILE.png] [--light] TEXT", `
Draws TEXT's QR code: in the terminal, or as a PNG with -o.`},
	"qr decode": {"nbpair qr decode IMAGE", `
Prints the text of the QR code in IMAGE, a PNG, JPEG or GIF file (a photo of a
label will do).`},
	"migrate": {"nbpair migrate [--store postgres://… | --data-dir DIR] up|status", `
Applies (up) or lists (status) the schema migrations of the store serve would
use with the same flags, environment and config file. serve applies them
itself when it starts; migrate lets an operator do it first, for example once
before rolling out several nodes.`},
	"backup": {"nbpair backup [--data-dir DIR] -o FILE", `
Writes a consistent copy of the SQLite database of the data directory to a new
file, while a server may be running on it. secret.key (which seals the device
keys) and admin.token are not in it: back them up too, apart. A PostgreSQL
store is backed up with PostgreSQL's own tools (pg_dump).`},
	"config": {"nbpair config print-default\nnbpair config check FILE", `
print-default prints the default configuration as a complete JSON file;
check FILE loads a file as serve would and names the first bad field.`},
	"config print-default": {"nbpair config print-default", `
Prints the default configuration as a complete JSON file for --config.`},
	"config check": {"nbpair config check FILE", `
Loads FILE as serve would (ignoring the environment) and names the first bad
field, or prints "FILE: ok".`},
	"version": {"nbpair version", `
Prints nbpair's module version, the commit it was built from (with "local
changes" if the tree had any) and the Go version.`},
	"help": {"nbpair help [COMMAND [SUBCOMMAND]]", `
Shows the commands, or the help of one.`},
}
