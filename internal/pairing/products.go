package pairing

import (
	"context"
	"sync"
)

// products keeps the products the device path has read: every plain
// Register checks its product, and a product never changes once created
// (nor is it deleted), so what one node has read stays true on every node.
// Devices are not kept: at a million of them the memory would cost more
// than the indexed read it saves.
type products struct{ m sync.Map } // product ID → Product

// product returns the product with the ID.
func (s *Service) product(ctx context.Context, id string) (Product, error) {
	if p, ok := s.products.m.Load(id); ok {
		return p.(Product), nil
	}
	p, err := s.store.Product(ctx, id)
	if err != nil {
		return Product{}, err
	}
	s.products.m.Store(id, p)
	return p, nil
}
