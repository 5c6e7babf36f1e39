package text

import (
	"strings"
	"testing"
)

func TestUpper(t *testing.T) {
	if strings.ToUpper("go") != "GO" {
		t.Fatal("upper")
	}
}

func TestLen(t *testing.T) {
	if len("héllo") != 6 {
		t.Fatal("bytes")
	}
}
