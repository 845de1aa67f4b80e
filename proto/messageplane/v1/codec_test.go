package mpv1

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

func bulkSamples() []proto.Message {
	return []proto.Message{
		&WatchResponse{},
		&WatchResponse{Epoch: "e1", EpochReset: true, Skipped: 3, HeadSeq: 1 << 40, Events: []*WatchEvent{
			{Seq: 1, Topic: "a", Event: []byte(`{"seq":1}`)}, {}, {Seq: 3, Topic: "é", Event: []byte(`{}`)}}},
		&ReadResponse{},
		&ReadResponse{Items: []byte(`[{"seq":1},{"seq":2}]`), Truncated: true, HeadSeq: 9, Epoch: "e2", Count: 2},
		&WriteRequest{},
		&WriteRequest{ProducerId: "ingest-1", Batch: 7, ReturnEvents: true, Ops: []*WriteOp{
			{Op: &WriteOp_Item{Item: &Item{Store: "messages", Topic: "a", Payload: []byte(`{"x":1}`), Deadline: 1764075600123456789}}},
			{Op: &WriteOp_Item{Item: &Item{Store: "messages", Topic: "b", Payload: []byte(`{}`)}}},
			{Op: &WriteOp_Replace{Replace: &Replace{Store: "export", Topic: "snap", Payloads: [][]byte{[]byte(`{"a":1}`), []byte(`{"b":2}`)}}}},
			{Op: &WriteOp_Replace{Replace: &Replace{Topic: "empty"}}},
			{},
		}},
	}
}

// decodeBoth decodes b with protobuf and with the bulk codec into fresh
// messages of m's type.
func decodeBoth(t *testing.T, m proto.Message, b []byte) {
	t.Helper()
	want := m.ProtoReflect().New().Interface()
	wantErr := proto.Unmarshal(b, want)
	got := m.ProtoReflect().New().Interface()
	gotErr := Codec{}.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, got)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("%T from %x: protobuf %v, bulk codec %v", m, b, wantErr, gotErr)
	}
	if wantErr == nil {
		// Unknown fields are kept by protobuf and dropped here.
		dropUnknown(want.ProtoReflect())
		if !proto.Equal(want, got) {
			t.Fatalf("%T from %x:\nprotobuf %v\nbulk     %v", m, b, want, got)
		}
	}
}

func dropUnknown(m protoreflect.Message) {
	m.SetUnknown(nil)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				dropUnknown(v.List().Get(i).Message())
			}
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			dropUnknown(v.Message())
		}
		return true
	})
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
	var info InfoResponse
	b, _ := proto.Marshal(&InfoResponse{Epoch: "x"})
	if err := (Codec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, &info); err != nil || info.Epoch != "x" {
		t.Fatalf("fallback: %v %v", &info, err)
	}
}

// fill sets every field of m (and of the messages inside it) to a non-zero
// value, every list to two elements and, for a oneof, the member of the
// given variant, so a field added to the proto and not to the hand decoder
// makes TestBulkCodecKnowsEveryField fail.
func fill(m protoreflect.Message, variant int) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if o := fd.ContainingOneof(); o != nil && o.Fields().Get(variant%o.Fields().Len()) != fd {
			continue
		}
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			for k := 0; k < 2; k++ {
				if fd.Message() != nil {
					e := l.NewElement()
					fill(e.Message(), variant+k)
					l.Append(e)
				} else {
					l.Append(scalar(fd, k))
				}
			}
		case fd.Message() != nil:
			fill(m.Mutable(fd).Message(), variant)
		default:
			m.Set(fd, scalar(fd, 0))
		}
	}
}

func scalar(fd protoreflect.FieldDescriptor, k int) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(fmt.Sprintf("%s-%d", fd.Name(), k))
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte(fmt.Sprintf(`{"%s":%d}`, fd.Name(), k)))
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(fd.Enum().Values().Get(fd.Enum().Values().Len() - 1).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(7 + k))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(1<<40 + int64(k))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(9 + k))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(1<<41 + uint64(k))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(1.5 + float64(k))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(2.5 + float32(k))
	}
	panic("unhandled kind " + fd.Kind().String())
}

// TestBulkCodecKnowsEveryField: the hand decoders agree with protobuf on
// messages with every field set, derived from the proto descriptors.
func TestBulkCodecKnowsEveryField(t *testing.T) {
	for _, m := range []proto.Message{&WatchResponse{}, &ReadResponse{}, &WriteRequest{}} {
		for variant := 0; variant < 2; variant++ {
			full := m.ProtoReflect().New()
			fill(full, variant)
			b, err := proto.Marshal(full.Interface())
			if err != nil {
				t.Fatal(err)
			}
			decodeBoth(t, m, b)
		}
	}
}

func FuzzBulkCodec(f *testing.F) {
	for _, m := range bulkSamples() {
		b, _ := proto.Marshal(m)
		f.Add(b)
	}
	f.Add([]byte{0x0a, 0x02, 0xff, 0xfe}) // invalid UTF-8 in a string field
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeBoth(t, &WatchResponse{}, b)
		decodeBoth(t, &ReadResponse{}, b)
		decodeBoth(t, &WriteRequest{}, b)
	})
}

func TestMarshalReadResponse(t *testing.T) {
	for mask := range 32 {
		m := &ReadResponse{}
		if mask&1 != 0 {
			m.Items = []byte(`[{"seq":1}]` + strings.Repeat(" ", mask*100))
		}
		m.Truncated = mask&2 != 0
		if mask&4 != 0 {
			m.HeadSeq = 1 << 50
		}
		if mask&8 != 0 {
			m.Epoch = "0123456789abcdef"
		}
		if mask&16 != 0 {
			m.Count = 7
		}
		want, _ := proto.Marshal(m)
		orig := proto.Clone(m)
		bs, err := Codec{}.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got := bs.Materialize()
		bs.Free()
		if string(got) != string(want) {
			t.Fatalf("mask %d: %x, protobuf %x", mask, got, want)
		}
		var back ReadResponse
		if err := proto.Unmarshal(got, &back); err != nil || !proto.Equal(&back, orig) {
			t.Fatalf("mask %d: %v %v", mask, &back, err)
		}
	}
}

// TestWriteOpMerges: a oneof member sent twice merges, another member
// replaces it, as protobuf decodes them.
func TestWriteOpMerges(t *testing.T) {
	msg := func(fields ...[]byte) []byte { return bytes.Join(fields, nil) }
	field := func(num protowire.Number, b []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), b)
	}
	item1 := field(1, msg(field(1, []byte("s")), field(3, []byte(`{"a":1}`))))
	item2 := field(1, msg(field(2, []byte("t"))))
	replace := field(2, msg(field(2, []byte("r")), field(3, []byte(`{}`))))
	for _, op := range [][]byte{msg(item1, item2), msg(item1, replace), msg(replace, item1, item2), msg(replace, replace)} {
		decodeBoth(t, &WriteRequest{}, field(3, op))
	}
}

// BenchmarkDecodeWriteRequest: an ingest batch of 1000 items over ten
// topics, by hand and through protobuf.
func BenchmarkDecodeWriteRequest(b *testing.B) {
	req := &WriteRequest{ProducerId: "ingest-1", Batch: 9}
	for i := range 1000 {
		req.Ops = append(req.Ops, &WriteOp{Op: &WriteOp_Item{Item: &Item{
			Store: "export", Topic: "bench." + strings.Repeat("t", i%10), Payload: []byte(`{"plugin_id":"p","text":"` + strings.Repeat("x", 200) + `"}`)}}})
	}
	buf, _ := proto.Marshal(req)
	b.Run("bulk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m WriteRequest
			if err := (Codec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer(buf)}, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("protobuf", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m WriteRequest
			if err := proto.Unmarshal(buf, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
