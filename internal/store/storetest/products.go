package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

var productTests = []test{
	{"DefaultExists", func(t *testing.T, s pairing.Store) {
		p, err := s.Product(t.Context(), pairing.DefaultProductID)
		if err != nil {
			t.Fatalf("Product(%q) in a new store: %v", pairing.DefaultProductID, err)
		}
		if p.ID != pairing.DefaultProductID || p.Name == "" {
			t.Fatalf("default product is %+v, want ID %q and a name", p, pairing.DefaultProductID)
		}
		all, err := s.Products(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "Products() in a new store", all, []pairing.Product{p})
	}},
	{"CreateAndGet", func(t *testing.T, s pairing.Store) {
		p := pairing.Product{ID: "meters", Name: "Water meter", AutoRegister: true,
			CreatedAt: epoch.In(time.FixedZone("UTC+8", 8*3600))}
		if err := s.CreateProduct(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		got, err := s.Product(t.Context(), p.ID)
		if err != nil {
			t.Fatal(err)
		}
		p.CreatedAt = p.CreatedAt.UTC()
		wantEqual(t, "Product", got, p)
	}},
	{"CreateDuplicate", func(t *testing.T, s pairing.Store) {
		p := pairing.Product{ID: "meters", Name: "Water meter", CreatedAt: epoch}
		if err := s.CreateProduct(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		dup := pairing.Product{ID: "meters", Name: "Gas meter", AutoRegister: true, CreatedAt: at(time.Hour)}
		wantErr(t, "CreateProduct of an existing ID", s.CreateProduct(t.Context(), dup), pairing.ErrProductExists)
		wantErr(t, "CreateProduct of the default ID",
			s.CreateProduct(t.Context(), pairing.Product{ID: pairing.DefaultProductID, Name: "x", CreatedAt: epoch}),
			pairing.ErrProductExists)
		got, err := s.Product(t.Context(), p.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "Product after a duplicate create", got, p)
	}},
	{"GetUnknown", func(t *testing.T, s pairing.Store) {
		_, err := s.Product(t.Context(), "no-such-product")
		wantErr(t, "Product of an unknown ID", err, pairing.ErrProductNotExists)
	}},
	{"ListSortedByID", func(t *testing.T, s pairing.Store) {
		created := map[string]pairing.Product{}
		for i, id := range []string{"zeta", "alpha", "mid", "default-2"} {
			p := pairing.Product{ID: id, Name: "Product " + id, AutoRegister: i%2 == 0, CreatedAt: at(time.Duration(i))}
			if err := s.CreateProduct(t.Context(), p); err != nil {
				t.Fatal(err)
			}
			created[id] = p
		}
		all, err := s.Products(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range all {
			got = append(got, p.ID)
			if want, ok := created[p.ID]; ok {
				wantEqual(t, "listed product", p, want)
			}
		}
		want := []string{"alpha", pairing.DefaultProductID, "default-2", "mid", "zeta"}
		if !slices.Equal(got, want) {
			t.Fatalf("Products() IDs = %q, want %q", got, want)
		}
	}},
}
