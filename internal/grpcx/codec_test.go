package grpcx

import (
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	mpv1 "github.com/messageplane/mp/proto/messageplane/v1"
)

func bulkSamples() []proto.Message {
	return []proto.Message{
		&mpv1.WatchResponse{},
		&mpv1.WatchResponse{Epoch: "e1", EpochReset: true, Skipped: 3, HeadSeq: 1 << 40, Events: []*mpv1.WatchEvent{
			{Seq: 1, Topic: "a", Event: []byte(`{"seq":1}`)}, {}, {Seq: 3, Topic: "é", Event: []byte(`{}`)}}},
		&mpv1.ReadResponse{},
		&mpv1.ReadResponse{Items: []byte(`[{"seq":1},{"seq":2}]`), Truncated: true, HeadSeq: 9, Epoch: "e2", Count: 2},
	}
}

// decodeBoth decodes b with protobuf and with the bulk codec into fresh
// messages of m's type.
func decodeBoth(t *testing.T, m proto.Message, b []byte) {
	t.Helper()
	want := m.ProtoReflect().New().Interface()
	wantErr := proto.Unmarshal(b, want)
	got := m.ProtoReflect().New().Interface()
	gotErr := bulkCodec{}.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, got)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("%T from %x: protobuf %v, bulk codec %v", m, b, wantErr, gotErr)
	}
	if wantErr == nil {
		// Unknown fields are kept by protobuf and dropped here.
		want.ProtoReflect().SetUnknown(nil)
		if w, ok := want.(*mpv1.WatchResponse); ok {
			for _, ev := range w.Events {
				ev.ProtoReflect().SetUnknown(nil)
			}
		}
		if !proto.Equal(want, got) {
			t.Fatalf("%T from %x:\nprotobuf %v\nbulk     %v", m, b, want, got)
		}
	}
}

func TestBulkCodec(t *testing.T) {
	for _, m := range bulkSamples() {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		decodeBoth(t, m, b)
		// Repeated singular fields (last wins) and an unknown field.
		decodeBoth(t, m, append(append(b, b...), 0xb8, 0x06, 0x01))
	}
	// Other messages go through protobuf.
	var info mpv1.InfoResponse
	b, _ := proto.Marshal(&mpv1.InfoResponse{Epoch: "x"})
	if err := (bulkCodec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, &info); err != nil || info.Epoch != "x" {
		t.Fatalf("fallback: %v %v", &info, err)
	}
}

func FuzzBulkCodec(f *testing.F) {
	for _, m := range bulkSamples() {
		b, _ := proto.Marshal(m)
		f.Add(b)
	}
	f.Add([]byte{0x0a, 0x02, 0xff, 0xfe}) // invalid UTF-8 in a string field
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeBoth(t, &mpv1.WatchResponse{}, b)
		decodeBoth(t, &mpv1.ReadResponse{}, b)
	})
}
