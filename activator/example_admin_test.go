package activator_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/nbpair/nbpair/activator"
)

// The device maker's side: create a product, provision a device at the
// factory, block it when it is reported stolen (an app's bind of it is
// refused), and read what happened in the audit log.
func ExampleAdmin() {
	srv := startServer() // an nbpair server for the example
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// The token is the one the server wrote to DATA_DIR/admin.token.
	a := activator.NewAdminClient(srv.URL, srv.admin)
	if _, err := a.CreateProduct(ctx, activator.NewProduct{ID: "wm3", Name: "Water meter"}); err != nil {
		log.Fatal(err)
	}
	d, err := a.Provision(ctx, activator.ProvisionRequest{IMEI: "868000000000009", ProductID: "wm3", Name: "Cellar meter"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("provisioned:", d.IMEI, d.Name, "with its key:", len(d.PSK) == 32)

	st, err := a.BlockDevice(ctx, d.ID, "reported stolen")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("blocked:", st.Blocked.Reason)
	c, home := srv.user(ctx, "alice")
	_, err = c.Activate(ctx, activator.TypeModel{Type: activator.TypeNB, SpaceID: home, NbID: d.NbID})
	fmt.Println("bind refused:", errors.Is(err, activator.ErrDeviceBlocked))

	page, err := a.Audit(ctx, activator.AuditQuery{DeviceID: d.ID})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range page.Entries { // newest first
		fmt.Println("audit:", e.Action, e.Outcome, e.Actor)
	}

	_, err = activator.NewAdminClient(srv.URL, "not the token").Products(ctx)
	fmt.Println("wrong token:", errors.Is(err, activator.ErrUserSessionLoss))
	// Output:
	// provisioned: 868000000000009 Cellar meter with its key: true
	// blocked: reported stolen
	// bind refused: true
	// audit: bind refused user
	// audit: block ok admin
	// audit: provision ok admin
	// wrong token: true
}
