package activator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// maxAdminAnswer bounds the JSON answers an Admin reads: a page of a
// thousand devices with their registrations is about 1.5 MB.
const maxAdminAnswer = 16 << 20

// maxImage bounds the PNG answers (label cards and sheets) an Admin reads.
const maxImage = 32 << 20

// Admin calls the admin API of an nbpair server (/v1/admin/...), the device
// maker's side: products and their pre-bind hooks, provisioning, the
// devices and what may be done to them, factory batches, the audit log,
// webhooks and the dashboard. It sends its requests, and reads the
// server's errors, as a Client does: a refusal is an *Error with the API's
// stable code. It is safe for concurrent use.
//
// The dashboard's event stream (GET /v1/admin/dashboard/events) is left
// to the web app; Dashboard reads the same data once.
type Admin struct {
	c *Client
}

// NewAdminClient returns an Admin of the server at baseURL that sends
// adminToken, the token the server writes to DATA_DIR/admin.token on its
// first start. The Options are those of NewClient; WithToken among them is
// overridden by adminToken.
func NewAdminClient(baseURL, adminToken string, opts ...Option) *Admin {
	return &Admin{c: NewClient(baseURL, append(slices.Clip(opts), WithToken(adminToken))...)}
}

// Product is a kind of device the device maker makes.
type Product struct {
	// ID is the product's ID, the ProductID of its devices.
	ID string `json:"id"`
	// Name is the product's display name, printed on its labels.
	Name string `json:"name"`
	// AutoRegister lets devices of the product that were never
	// provisioned create themselves when they first register.
	AutoRegister bool `json:"autoRegister"`
	// PlainCoAP lets the product's devices register without DTLS (for
	// development; the production profile refuses it).
	PlainCoAP bool `json:"plainCoap"`
	// CreatedAt is when the product was created.
	CreatedAt time.Time `json:"createdAt"`
	// BindHook is the product's pre-bind hook with its secret; only the
	// answer of CreateProduct carries it, when it set one.
	BindHook *BindHook `json:"bindHook,omitempty"`
}

// NewProduct is a product to create.
type NewProduct struct {
	// ID is the product's ID; required.
	ID string `json:"id"`
	// Name is the product's display name.
	Name string `json:"name"`
	// AutoRegister lets devices of the product that were never
	// provisioned create themselves when they first register.
	AutoRegister bool `json:"autoRegister"`
	// PlainCoAP lets the product's devices register without DTLS; nil
	// means true, the server's default.
	PlainCoAP *bool `json:"plainCoap,omitempty"`
	// BindHook, when set, is the product's pre-bind hook.
	BindHook *BindHookConfig `json:"bindHook,omitempty"`
}

// BindHookConfig is a product's pre-bind hook as the admin sets it: before
// each bind of the product's devices the server POSTs the bind to URL and
// binds only if it allows it.
type BindHookConfig struct {
	// URL is where the server asks; http or https.
	URL string
	// Timeout bounds the hook's answer; 0 means the server's default (5 s).
	Timeout time.Duration
	// OnHookFailure is what happens when the hook does not answer in
	// time: "deny" (the default when empty) or "allow".
	OnHookFailure string
}

// MarshalJSON writes the hook as the API takes it, its Timeout as a
// duration string.
func (h BindHookConfig) MarshalJSON() ([]byte, error) {
	v := struct {
		URL           string `json:"url"`
		Timeout       string `json:"timeout,omitempty"`
		OnHookFailure string `json:"onHookFailure,omitempty"`
	}{URL: h.URL, OnHookFailure: h.OnHookFailure}
	if h.Timeout != 0 {
		v.Timeout = h.Timeout.String()
	}
	return json.Marshal(v)
}

// BindHook is a product's pre-bind hook.
type BindHook struct {
	// ProductID is the hook's product.
	ProductID string
	// URL is where the server asks.
	URL string
	// Timeout bounds the hook's answer.
	Timeout time.Duration
	// OnHookFailure is "deny" or "allow".
	OnHookFailure string
	// CreatedAt is when the hook was set.
	CreatedAt time.Time
	// Secret signs the server's requests to the hook; only the answers
	// that set the hook carry it.
	Secret string
}

// bindHookJSON is a BindHook as the API writes it.
type bindHookJSON struct {
	ProductID     string    `json:"productId"`
	URL           string    `json:"url"`
	Timeout       string    `json:"timeout"`
	OnHookFailure string    `json:"onHookFailure"`
	CreatedAt     time.Time `json:"createdAt"`
	Secret        string    `json:"secret,omitempty"`
}

// UnmarshalJSON reads the hook as the API writes it.
func (h *BindHook) UnmarshalJSON(b []byte) error {
	var v bindHookJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	d, err := time.ParseDuration(v.Timeout)
	if err != nil {
		return fmt.Errorf("the bind hook's timeout %q: %w", v.Timeout, err)
	}
	*h = BindHook{ProductID: v.ProductID, URL: v.URL, Timeout: d, OnHookFailure: v.OnHookFailure, CreatedAt: v.CreatedAt, Secret: v.Secret}
	return nil
}

// MarshalJSON writes the hook as the API does.
func (h BindHook) MarshalJSON() ([]byte, error) {
	return json.Marshal(bindHookJSON{ProductID: h.ProductID, URL: h.URL, Timeout: h.Timeout.String(),
		OnHookFailure: h.OnHookFailure, CreatedAt: h.CreatedAt, Secret: h.Secret})
}

// CreateProduct creates a product, and its pre-bind hook if p has one
// (the answer's BindHook then carries the hook's secret, this once). An
// existing ID is a CodeAlreadyExists error.
func (a *Admin) CreateProduct(ctx context.Context, p NewProduct) (Product, error) {
	var out Product
	err := a.do(ctx, http.MethodPost, "/v1/admin/products", p, &out)
	return out, err
}

// Products lists the products.
func (a *Admin) Products(ctx context.Context) ([]Product, error) {
	var out struct {
		Products []Product `json:"products"`
	}
	err := a.do(ctx, http.MethodGet, "/v1/admin/products", nil, &out)
	return out.Products, err
}

// SetBindHook sets (or replaces) the pre-bind hook of a product and
// returns it with a new secret, shown this once.
func (a *Admin) SetBindHook(ctx context.Context, productID string, h BindHookConfig) (BindHook, error) {
	var out BindHook
	err := a.do(ctx, http.MethodPut, productPath(productID)+"/bindHook", h, &out)
	return out, err
}

// BindHook returns the pre-bind hook of a product, without its secret; a
// product without one is a CodeNotFound error.
func (a *Admin) BindHook(ctx context.Context, productID string) (BindHook, error) {
	var out BindHook
	err := a.do(ctx, http.MethodGet, productPath(productID)+"/bindHook", nil, &out)
	return out, err
}

// DeleteBindHook removes the pre-bind hook of a product: its devices bind
// without asking again.
func (a *Admin) DeleteBindHook(ctx context.Context, productID string) error {
	return a.do(ctx, http.MethodDelete, productPath(productID)+"/bindHook", nil, nil)
}

// do is Client.do with the larger answers of the admin API.
func (a *Admin) do(ctx context.Context, method, path string, in, out any) error {
	resp, err := a.c.send(ctx, method, path, in, "application/json")
	if err != nil {
		return err
	}
	return decodeAnswer(resp, maxAdminAnswer, out, method, path)
}

func productPath(id string) string { return "/v1/admin/products/" + url.PathEscape(id) }

// readCapped reads a 2xx answer's body whole, refusing one larger than
// limit, and closes it.
func readCapped(resp *http.Response, limit int64, what string) ([]byte, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("activator: reading the %s: %w", what, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("activator: the %s is larger than %d bytes", what, limit)
	}
	return b, nil
}
