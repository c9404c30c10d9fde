package activator_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/nbpair/nbpair/activator"
)

// The seed's whole flow: log in, parse the scanned label, register the NB
// pairing type and start the activation; the device powers on and the
// delegate is told it is paired.
func Example() {
	srv := startServer() // an nbpair server for the example
	defer srv.Close()
	label := srv.provision("868000000000001") // the text of the device's QR label

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := activator.NewClient(srv.URL)
	if _, err := c.SignUp(ctx, "alice", "correct horse battery"); err != nil {
		log.Fatal(err)
	}
	se, err := c.LogIn(ctx, "alice", "correct horse battery")
	if err != nil {
		log.Fatal(err)
	}
	home, err := c.CreateHome(ctx, "Flat")
	if err != nil {
		log.Fatal(err)
	}

	scan, err := c.ParseQRCode(ctx, label)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("action:", scan.ActionName)
	if scan.ActionName != activator.ActionNameNB {
		return
	}
	typ := activator.TypeModel{
		Type: activator.TypeNB, TypeName: "NB", Timeout: 120 * time.Second,
		SpaceID: home.ID, NbID: scan.ActionData.ID,
	}
	done := make(chan struct{})
	disc := activator.NewDiscovery(c, activator.DelegateFunc(
		func(_ *activator.Discovery, _ activator.TypeModel, devices []activator.DeviceModel, errModel *activator.ErrorModel) {
			defer close(done)
			if errModel != nil {
				fmt.Println("bind failure:", errModel.Err.Code, errModel.Err.Name)
				return
			}
			fmt.Println("paired:", len(devices) == 1)
			fmt.Println("owner is alice:", devices[0].OwnerUID == se.UID)
		}))
	disc.Register(typ)
	if err := disc.StartActive(typ, nil); err != nil {
		log.Fatal(err)
	}

	off := srv.powerOn("868000000000001") // the device powers on and registers
	defer off()
	select {
	case <-done:
	case <-ctx.Done():
		fmt.Println("no outcome")
	}
	// Output:
	// action: device_net_conn_bind_nb
	// paired: true
	// owner is alice: true
}

// Activate is the blocking form of Discovery: it returns the paired device
// or the error.
func ExampleClient_Activate() {
	srv := startServer()
	defer srv.Close()
	label := srv.provision("868000000000002")
	defer srv.powerOn("868000000000002")()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, homeID := srv.user(ctx, "alice")
	scan, err := c.ParseQRCode(ctx, label)
	if err != nil {
		log.Fatal(err)
	}
	dev, err := c.Activate(ctx, activator.TypeModel{Type: activator.TypeNB, SpaceID: homeID, NbID: scan.ActionData.ID})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("paired:", dev.DevID != "")
	fmt.Println("in the home:", dev.SpaceID == homeID)
	// Output:
	// paired: true
	// in the home: true
}

// A device bound to another account is refused with 3711; errors.Is
// matches by code.
func ExampleError() {
	srv := startServer()
	defer srv.Close()
	label := srv.provision("868000000000003")
	defer srv.powerOn("868000000000003")()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	alice, aliceHome := srv.user(ctx, "alice")
	bob, bobHome := srv.user(ctx, "bob")
	scan, err := alice.ParseQRCode(ctx, label)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := alice.Activate(ctx, activator.TypeModel{Type: activator.TypeNB, SpaceID: aliceHome, NbID: scan.ActionData.ID}); err != nil {
		log.Fatal(err)
	}

	_, err = bob.Activate(ctx, activator.TypeModel{Type: activator.TypeNB, SpaceID: bobHome, NbID: scan.ActionData.ID})
	var e *activator.Error
	if errors.As(err, &e) {
		fmt.Println("error:", e.Code, e.Name)
	}
	fmt.Println("already bound:", errors.Is(err, activator.ErrDeviceAlreadyBound))
	// Output:
	// error: 3711 DeviceAlreadyBound
	// already bound: true
}

// ParseQRCode tells an NB-IoT device's label from anything else.
func ExampleClient_ParseQRCode() {
	srv := startServer()
	defer srv.Close()
	label := srv.provision("868000000000004")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, _ := srv.user(ctx, "alice")
	scan, err := c.ParseQRCode(ctx, label)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(scan.ActionName, len(scan.ActionData.ID))

	_, err = c.ParseQRCode(ctx, "WIFI:S:home;T:WPA;P:secret;;")
	fmt.Println("not a label:", errors.Is(err, activator.ErrQRCodeNotRecognised))
	// Output:
	// device_net_conn_bind_nb 32
	// not a label: true
}

// StopActive stops an activation that is waiting for its device; the
// delegate is not called for it.
func ExampleDiscovery_StopActive() {
	srv := startServer()
	defer srv.Close()
	label := srv.provision("868000000000005") // the device stays off

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, homeID := srv.user(ctx, "alice")
	scan, err := c.ParseQRCode(ctx, label)
	if err != nil {
		log.Fatal(err)
	}
	called := make(chan struct{}, 1)
	disc := activator.NewDiscovery(c, activator.DelegateFunc(
		func(*activator.Discovery, activator.TypeModel, []activator.DeviceModel, *activator.ErrorModel) {
			called <- struct{}{}
		}))
	typ := activator.TypeModel{Type: activator.TypeNB, SpaceID: homeID, NbID: scan.ActionData.ID}
	disc.Register(typ)
	if err := disc.StartActive(typ, nil); err != nil {
		log.Fatal(err)
	}
	disc.StopActive([]activator.TypeModel{typ}, true)
	select {
	case <-called:
		fmt.Println("delegate called")
	default:
		fmt.Println("delegate not called")
	}
	fmt.Println("devices:", len(disc.Devices()))
	// Output:
	// delegate not called
	// devices: 0
}
