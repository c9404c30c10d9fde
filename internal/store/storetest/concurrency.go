package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nbpair/nbpair/internal/pairing"
)

// concurrent is how many goroutines the concurrency tests run at once.
const concurrent = 20

var concurrencyTests = []test{
	{"RegisterDevices", func(t *testing.T, s pairing.Store) {
		ns := make([]int, concurrent)
		for i := range ns {
			ns[i] = i + 1
		}
		devs := createDevices(t, s, ns...)
		regs := make([]pairing.Registration, len(devs))
		firsts, errs := make([]bool, len(devs)), make([]error, len(devs))
		all(len(devs), func(i int) {
			regs[i] = newRegistration(devs[i], fmt.Sprintf("reg%02d", i), at(time.Duration(i)))
			firsts[i], errs[i] = s.Register(t.Context(), regs[i])
		})
		for i, d := range devs {
			if errs[i] != nil || !firsts[i] {
				t.Errorf("Register of %s = first %v, error %v; want first, no error", d.ID, firsts[i], errs[i])
				continue
			}
			got, err := s.RegistrationOfDevice(t.Context(), d.ID)
			if err != nil {
				t.Errorf("RegistrationOfDevice(%s): %v", d.ID, err)
				continue
			}
			wantRegistration(t, "RegistrationOfDevice", got, regs[i])
		}
	}},
	{"RegisterOneDevice", func(t *testing.T, s pairing.Store) {
		d := createDevices(t, s, 1)[0]
		firsts, errs := make([]bool, concurrent), make([]error, concurrent)
		all(concurrent, func(i int) {
			firsts[i], errs[i] = s.Register(t.Context(), newRegistration(d, fmt.Sprintf("reg%02d", i), at(time.Duration(i))))
		})
		nfirst := 0
		for i := range concurrent {
			if errs[i] != nil {
				t.Fatalf("Register %d: %v", i, errs[i])
			}
			if firsts[i] {
				nfirst++
			}
		}
		if nfirst != 1 {
			t.Fatalf("%d concurrent Registers of one device reported first %d times, want once", concurrent, nfirst)
		}
		current, err := s.RegistrationOfDevice(t.Context(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		for i := range concurrent {
			id := fmt.Sprintf("reg%02d", i)
			if _, err := s.Registration(t.Context(), id); id != current.ID {
				wantErr(t, "Registration of a replaced ID", err, pairing.ErrNotFound)
			} else if err != nil {
				t.Fatal(err)
			}
		}
	}},
	{"BindOneDevice", func(t *testing.T, s pairing.Store) {
		d := createDevices(t, s, 1)[0]
		acts := make([]pairing.Activation, concurrent)
		for i := range acts {
			u := createUser(t, s, i+1)
			acts[i] = newActivation(fmt.Sprintf("act%02d", i), u, createHome(t, s, i+1, u), d, at(time.Duration(i)))
			createActivation(t, s, acts[i])
		}
		errs := make([]error, concurrent)
		all(concurrent, func(i int) { _, _, errs[i] = s.Bind(t.Context(), acts[i].ID, at(time.Second)) })
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("both %s and %s bound the device", acts[winner].ID, acts[i].ID)
			case err == nil:
				winner = i
			default:
				wantErr(t, "losing Bind", err, pairing.ErrAlreadyBound)
				wantActivation(t, s, "activation that lost the race", acts[i])
			}
		}
		if winner < 0 {
			t.Fatalf("none of %d concurrent Binds of one device succeeded", concurrent)
		}
		got, err := s.Device(t.Context(), d.ID)
		if err != nil || got.OwnerID != acts[winner].UserID || got.HomeID != acts[winner].HomeID {
			t.Fatalf("device after the race = %+v, %v; want bound by %s", got, err, acts[winner].ID)
		}
	}},
	{"BindOrFinish", func(t *testing.T, s pairing.Store) {
		u := createUser(t, s, 1)
		h := createHome(t, s, 1, u)
		acts := make([]pairing.Activation, concurrent)
		for i := range acts {
			acts[i] = newActivation(fmt.Sprintf("act%02d", i), u, h, createDevices(t, s, i+1)[0], at(time.Duration(i)))
			createActivation(t, s, acts[i])
		}
		bindErrs, finishErrs := make([]error, concurrent), make([]error, concurrent)
		all(2*concurrent, func(i int) {
			if a := acts[i/2]; i%2 == 0 {
				_, _, bindErrs[i/2] = s.Bind(t.Context(), a.ID, at(time.Second))
			} else {
				_, finishErrs[i/2] = s.FinishActivation(t.Context(), a.ID, pairing.ActivationFailed, pairing.FailTimeout, at(time.Second))
			}
		})
		for i, a := range acts {
			bindErr, finishErr := bindErrs[i], finishErrs[i]
			if (bindErr == nil) == (finishErr == nil) {
				t.Fatalf("%s: Bind error %v, FinishActivation error %v; want exactly one to succeed", a.ID, bindErr, finishErr)
			}
			got, err := s.Activation(t.Context(), a.ID)
			if err != nil {
				t.Fatal(err)
			}
			dev, err := s.Device(t.Context(), a.DeviceID)
			if err != nil {
				t.Fatal(err)
			}
			if bindErr == nil && (got.Status != pairing.ActivationPaired || dev.OwnerID != u.ID) {
				t.Fatalf("%s won by Bind, yet stored as %s with device owner %q", a.ID, got.Status, dev.OwnerID)
			}
			if finishErr == nil && (got.Status != pairing.ActivationFailed || dev.OwnerID != "") {
				t.Fatalf("%s won by FinishActivation, yet stored as %s with device owner %q", a.ID, got.Status, dev.OwnerID)
			}
			if bindErr != nil {
				wantErr(t, "Bind that lost to FinishActivation", bindErr, pairing.ErrActivationFinished)
			} else {
				wantErr(t, "FinishActivation that lost to Bind", finishErr, pairing.ErrActivationFinished)
			}
		}
	}},
}

// all runs f(0) to f(n-1) in n goroutines released at once, and waits for
// them.
func all(n int, f func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			f(i)
		})
	}
	close(start)
	wg.Wait()
}
