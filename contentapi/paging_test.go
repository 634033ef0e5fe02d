package contentapi

import (
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewList(t *testing.T) {
	if diff := cmp.Diff(List[int]{Data: []int{1, 2}, HasMore: true}, NewList([]int{1, 2, 3}, 2)); diff != "" {
		t.Errorf("one extra (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(List[int]{Data: []int{1, 2}}, NewList([]int{1, 2}, 2)); diff != "" {
		t.Errorf("exactly limit (-want +got):\n%s", diff)
	}
	if l := NewList[int](nil, 5); l.Data == nil || l.HasMore {
		t.Errorf("empty: %#v, want data [] and no more", l)
	}
}

func TestParsePage(t *testing.T) {
	q, _ := url.ParseQuery("limit=5&before=b@x.com&_=1")
	p, err := ParsePage(q, 20, 1000)
	if err != nil || p != (Page{Limit: 5, Before: "b@x.com"}) {
		t.Errorf("ParsePage = %+v, %v", p, err)
	}
	p, err = ParsePage(url.Values{}, 20, 1000)
	if err != nil || p != (Page{Limit: 20}) {
		t.Errorf("ParsePage of nothing = %+v, %v; want the default limit", p, err)
	}
}
