// Package activator is the Go SDK of nbpair for apps: it pairs NB-IoT
// devices with user accounts through an nbpair server's HTTP API, and
// mirrors the activator API of the smart-home SDK whose NB-IoT pairing
// flow nbpair implements, in idiomatic Go.
//
// An app logs in, scans the device's QR label, asks the server what it
// means, and activates the device in a home:
//
//	c := activator.NewClient("https://pair.example.com")
//	if _, err := c.LogIn(ctx, "alice", "correct horse battery"); err != nil { … }
//	scan, err := c.ParseQRCode(ctx, labelText)
//	if err == nil && scan.ActionName == activator.ActionNameNB {
//		t := activator.TypeModel{Type: activator.TypeNB, TypeName: "NB",
//			Timeout: 120 * time.Second, SpaceID: homeID, NbID: scan.ActionData.ID}
//		disc := activator.NewDiscovery(c, delegate)
//		disc.Register(t)
//		disc.StartActive(t, nil) // delegate.ActivatorService tells the outcome
//	}
//
// Client.Activate does the same as one blocking call. StartActiveContext
// binds an activation to a context: when it ends, the activation is
// stopped. A Delegate that wants no more outcomes calls StopActive on the
// Discovery it is given.
//
// # The device maker's side
//
// Admin calls the admin API with the token the server writes to
// DATA_DIR/admin.token: products and their pre-bind hooks, provisioning,
// devices (list, show, label card, block, unblock, force-unbind,
// deprovision, rotate the DTLS key), factory batches (import, factory CSV,
// label sheets), the audit log, webhooks and their deliveries, and the
// dashboard's snapshot (its event stream is left to the web app). Its
// errors are those of a Client:
//
//	a := activator.NewAdminClient("https://pair.example.com", adminToken)
//	d, err := a.Provision(ctx, activator.ProvisionRequest{IMEI: imei})
//	if errors.Is(err, activator.ErrAlreadyExists) { … } // 4009
//
// # Names of the seed SDK
//
//	ThingSmartActivatorDiscoveryRequest              Client
//	  requestParseQRCodeWithParam:success:failure:   Client.ParseQRCode
//	ThingActivatorParseQRCodeRequestData.code        the code argument of ParseQRCode
//	ThingSmartAScanCodeModel                         ScanCodeModel
//	  actionName "device_net_conn_bind_nb"           ActionNameNB
//	  actionData[@"id"]                              ScanCodeModel.ActionData.ID (ScanDevice)
//	ThingSmartActivatorType, …TypeNB                 ActivatorType, TypeNB
//	NSStringFromThingSmartActivatorType              TypeModel.TypeName (free text)
//	ThingSmartActivatorTypeNBModel                   TypeModel
//	  type, typeName, timeout, spaceId, nbId         Type, TypeName, Timeout, SpaceID, NbID
//	ThingSmartActivatorDiscovery                     Discovery (NewDiscovery)
//	  registerWithActivatorList:                     Discovery.Register
//	  setupDelegate:                                 the Delegate argument of NewDiscovery
//	  startActive:deviceList:                        Discovery.StartActive (StartActiveContext)
//	  stopActive:clearCache:                         Discovery.StopActive (StopActiveContext)
//	  (cached search results)                        Discovery.Devices
//	ThingSmartActivatorActiveDelegate                Delegate, DelegateFunc
//	  activatorService:activatorType:didReceiveDevices:error:
//	                                                 Delegate.ActivatorService
//	ThingSmartActivatorDeviceModel                   DeviceModel (uniqueID → UniqueID, …)
//	ThingSmartActivatorErrorModel                    ErrorModel (deviceModel → Device, error → Err)
//	ThingSmartActivatorDiscoveryError                Error, the Code* constants, the Err* sentinels
//
// # Errors
//
// Every refusal of the server is an *Error carrying the API's stable code
// (the seed's codes 1512 and 37xx, nbpair's own 40xx and 50xx). Test for
// one with errors.Is and the Err* sentinels, which match by code:
//
//	if errors.Is(err, activator.ErrDeviceAlreadyBound) { … } // 3711
//
// Client methods return network failures wrapped (with %w), not as
// *Error. A Discovery reports everything through its Delegate, so there a
// network failure is an *Error with CodeNetwork that wraps the cause.
//
// # How an activation is followed
//
// The server is told to bind the device with POST /v1/activations; the SDK
// then learns the outcome by push, never by a short poll: it reads the
// activation's server-sent events, and if that stream breaks, it
// long-polls (GET /v1/activations/{id}?wait=30s) until the outcome is
// known. Do not give the Client an http.Client with a Timeout; bound calls
// with their context.
package activator
