package controllers

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestInventory(t *testing.T) {
	prev := []InventoryEntry{
		{Kind: "Stub", Name: "kept", Path: "a/kept", SHA256: "1"},
		{Kind: "Stub", Name: "gone", Path: "a/gone", SHA256: "2"},
		{Kind: "Stub", Name: "failed", Path: "a/failed", SHA256: "3"},
		{Kind: "Stub", Name: "retired", Path: "a/retired", SHA256: "4"},
	}
	inv := NewInventory(prev)

	if err := inv.Claim("a/kept", "Stub/kept"); err != nil {
		t.Fatal(err)
	}
	// A second object that wants the same path is refused, naming the first.
	if err := inv.Claim("a/kept", "Stub/other"); err == nil || !strings.Contains(err.Error(), "Stub/kept") {
		t.Errorf("second claim = %v, want an error naming Stub/kept", err)
	}
	inv.Own(InventoryEntry{Kind: "Stub", Name: "kept", Path: "a/kept", SHA256: "1b"})
	inv.Own(InventoryEntry{Kind: "Stub", Name: "new", Path: "a/new", SHA256: "5"})
	// A failed object keeps what it owned and is never a prune candidate.
	inv.Fail("a/failed", "Stub/failed")
	// Wanted without being claimed: a retired agent's plist.
	inv.Want("a/retired", "LaunchAgent/retired")

	if diff := cmp.Diff([]InventoryEntry{prev[1]}, inv.Unwanted()); diff != "" {
		t.Errorf("Unwanted (-want +got):\n%s", diff)
	}
	want := []InventoryEntry{
		{Kind: "Stub", Name: "failed", Path: "a/failed", SHA256: "3"},
		{Kind: "Stub", Name: "kept", Path: "a/kept", SHA256: "1b"},
		{Kind: "Stub", Name: "new", Path: "a/new", SHA256: "5"},
	}
	if diff := cmp.Diff(want, inv.Owned()); diff != "" {
		t.Errorf("Owned (-want +got):\n%s", diff)
	}
	if e, ok := inv.Previous("a/gone"); !ok || e.SHA256 != "2" {
		t.Errorf("Previous(a/gone) = %+v, %v", e, ok)
	}
	if !inv.Wanted("a/retired") || inv.Wanted("a/gone") {
		t.Errorf("Wanted: retired %v, gone %v; want true, false", inv.Wanted("a/retired"), inv.Wanted("a/gone"))
	}
	// A failure after a claim does not steal the path.
	inv.Fail("a/kept", "Stub/other")
	if err := inv.Claim("a/kept", "Stub/third"); err == nil || !strings.Contains(err.Error(), "Stub/kept") {
		t.Errorf("claim after a failure = %v, want the first owner named", err)
	}
}
