package calc

import (
	"fmt"
	"testing"
)

func TestAdd(t *testing.T) {
	if Add(2, 2) != 4 {
		t.Fatal("2 + 2")
	}
}

func TestWrongOnPurpose(t *testing.T) {
	t.Logf("about to fail")
	if Add(2, 2) != 5 {
		t.Errorf("a genuine failure: got %d, want 5", Add(2, 2))
	}
}

func TestTable(t *testing.T) {
	for _, c := range []struct{ a, b, want int }{{1, 1, 2}, {-1, 1, 0}} {
		t.Run(fmt.Sprintf("%d+%d", c.a, c.b), func(t *testing.T) {
			if got := Add(c.a, c.b); got != c.want {
				t.Errorf("got %d", got)
			}
		})
	}
}

func TestSkipped(t *testing.T) {
	t.Skip("not on this platform")
}

func ExampleAdd() {
	fmt.Println(Add(1, 2))
	// Output: 3
}

func BenchmarkAdd(b *testing.B) {
	for i := 0; i < b.N; i++ {
		Add(1, 2)
	}
}
