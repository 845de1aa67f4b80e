package mpv1

import (
	"errors"
	"unicode/utf8"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Codec is the codec of every connection to the store and of the store's
// server; both sides still speak plain protobuf. protobuf-go copies every
// bytes field out of a received message: for a Watch batch one allocation
// and copy per event (half of mp-pub's CPU under ingest), for a 5 MB read a
// second copy of it, for a write six allocations per item. This codec
// copies the message once into a buffer of its own and decodes
// WatchResponse, ReadResponse and WriteRequest by hand, their bytes
// pointing into that buffer, and marshals a ReadResponse around its items
// without copying them; every other message goes through gRPC's proto
// codec. It lives beside the messages it knows: a field added to them
// fails TestBulkCodecKnowsEveryField until it is decoded here too.
type Codec struct{}

func protoCodec() encoding.CodecV2 { return encoding.GetCodecV2("proto") }

// Name is the content-subtype: the other side sees ordinary protobuf.
func (Codec) Name() string { return "proto" }

// Marshal encodes v; a ReadResponse's items are sent from where they are.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(*ReadResponse); ok {
		return marshalReadResponse(m), nil
	}
	return protoCodec().Marshal(v)
}

// Field numbers, read from the descriptors rather than written twice.
// Package variables are set before the generated init registers the
// descriptors, so num registers them first (it does so once).
func num(m protoreflect.ProtoMessage, field protoreflect.Name) protowire.Number {
	file_messageplane_v1_store_proto_init()
	return m.ProtoReflect().Descriptor().Fields().ByName(field).Number()
}

var (
	readItems     = num(&ReadResponse{}, "items")
	readTruncated = num(&ReadResponse{}, "truncated")
	readHeadSeq   = num(&ReadResponse{}, "head_seq")
	readEpoch     = num(&ReadResponse{}, "epoch")
	readCount     = num(&ReadResponse{}, "count")

	watchEpoch   = num(&WatchResponse{}, "epoch")
	watchReset   = num(&WatchResponse{}, "epoch_reset")
	watchSkipped = num(&WatchResponse{}, "skipped")
	watchHeadSeq = num(&WatchResponse{}, "head_seq")
	watchEvents  = num(&WatchResponse{}, "events")

	eventSeq   = num(&WatchEvent{}, "seq")
	eventTopic = num(&WatchEvent{}, "topic")
	eventBytes = num(&WatchEvent{}, "event")

	writeProducer = num(&WriteRequest{}, "producer_id")
	writeBatch    = num(&WriteRequest{}, "batch")
	writeOps      = num(&WriteRequest{}, "ops")
	writeReturn   = num(&WriteRequest{}, "return_events")

	opItem    = num(&WriteOp{}, "item")
	opReplace = num(&WriteOp{}, "replace")

	itemStore    = num(&Item{}, "store")
	itemTopic    = num(&Item{}, "topic")
	itemPayload  = num(&Item{}, "payload")
	itemDeadline = num(&Item{}, "deadline")
	itemEncoding = num(&Item{}, "encoding")

	replaceStore    = num(&Replace{}, "store")
	replaceTopic    = num(&Replace{}, "topic")
	replacePayloads = num(&Replace{}, "payloads")
)

// marshalReadResponse encodes a read reply around its items without
// copying them (megabytes for a large read): gRPC writes the items from
// where the store rendered them.
func marshalReadResponse(m *ReadResponse) mem.BufferSlice {
	var head, tail []byte
	if len(m.Items) > 0 {
		head = protowire.AppendTag(head, readItems, protowire.BytesType)
		head = protowire.AppendVarint(head, uint64(len(m.Items)))
	}
	if m.Truncated {
		tail = protowire.AppendVarint(protowire.AppendTag(tail, readTruncated, protowire.VarintType), 1)
	}
	if m.HeadSeq != 0 {
		tail = protowire.AppendVarint(protowire.AppendTag(tail, readHeadSeq, protowire.VarintType), m.HeadSeq)
	}
	if m.Epoch != "" {
		tail = protowire.AppendString(protowire.AppendTag(tail, readEpoch, protowire.BytesType), m.Epoch)
	}
	if m.Count != 0 {
		tail = protowire.AppendVarint(protowire.AppendTag(tail, readCount, protowire.VarintType), uint64(m.Count))
	}
	return mem.BufferSlice{mem.SliceBuffer(head), mem.SliceBuffer(m.Items), mem.SliceBuffer(tail)}
}

// Unmarshal decodes into v.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	switch m := v.(type) {
	case *WatchResponse:
		return decodeWatchResponse(data.Materialize(), m)
	case *ReadResponse:
		return decodeReadResponse(data.Materialize(), m)
	case *WriteRequest:
		return decodeWriteRequest(data.Materialize(), m)
	}
	return protoCodec().Unmarshal(data, v)
}

var errWire = errors.New("malformed protobuf message")

// field reads one field's tag and, for the wire types these messages use,
// its value: n for varints, b for length-delimited. Unknown fields and
// known fields of an unexpected wire type are skipped, as protobuf does.
type field struct {
	num protowire.Number
	typ protowire.Type
	n   uint64
	b   []byte
}

// nextField consumes one field from buf.
func nextField(buf []byte) (f field, rest []byte, err error) {
	num, typ, l := protowire.ConsumeTag(buf)
	if l < 0 || num > protowire.MaxValidNumber {
		return f, nil, errWire
	}
	buf = buf[l:]
	f.num, f.typ = num, typ
	switch typ {
	case protowire.VarintType:
		f.n, l = protowire.ConsumeVarint(buf)
	case protowire.BytesType:
		f.b, l = protowire.ConsumeBytes(buf)
		f.b = f.b[:len(f.b):len(f.b)] // never let an append reach the next field
	default:
		l = protowire.ConsumeFieldValue(num, typ, buf)
	}
	if l < 0 {
		return f, nil, errWire
	}
	return f, buf[l:], nil
}

// eachField calls fn with every field of a message, in order.
func eachField(buf []byte, fn func(f field) error) error {
	for len(buf) > 0 {
		f, rest, err := nextField(buf)
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			return err
		}
		buf = rest
	}
	return nil
}

func str(b []byte) (string, error) {
	if !utf8.Valid(b) {
		return "", errWire // proto3 strings are UTF-8; protobuf refuses others too
	}
	return string(b), nil
}

func decodeReadResponse(buf []byte, m *ReadResponse) error {
	m.Reset()
	return eachField(buf, func(f field) (err error) {
		switch {
		case f.num == readItems && f.typ == protowire.BytesType:
			m.Items = f.b
		case f.num == readTruncated && f.typ == protowire.VarintType:
			m.Truncated = protowire.DecodeBool(f.n)
		case f.num == readHeadSeq && f.typ == protowire.VarintType:
			m.HeadSeq = f.n
		case f.num == readEpoch && f.typ == protowire.BytesType:
			m.Epoch, err = str(f.b)
		case f.num == readCount && f.typ == protowire.VarintType:
			m.Count = uint32(f.n)
		}
		return err
	})
}

func decodeWatchResponse(buf []byte, m *WatchResponse) error {
	m.Reset()
	n := 0 // events, counted first: they come from one allocation
	if err := eachField(buf, func(f field) error {
		if f.num == watchEvents && f.typ == protowire.BytesType {
			n++
		}
		return nil
	}); err != nil {
		return err
	}
	events := make([]WatchEvent, n)
	m.Events = make([]*WatchEvent, 0, n)
	return eachField(buf, func(f field) (err error) {
		switch {
		case f.num == watchEpoch && f.typ == protowire.BytesType:
			m.Epoch, err = str(f.b)
		case f.num == watchReset && f.typ == protowire.VarintType:
			m.EpochReset = protowire.DecodeBool(f.n)
		case f.num == watchSkipped && f.typ == protowire.VarintType:
			m.Skipped = f.n
		case f.num == watchHeadSeq && f.typ == protowire.VarintType:
			m.HeadSeq = f.n
		case f.num == watchEvents && f.typ == protowire.BytesType:
			ev := &events[len(m.Events)]
			m.Events = append(m.Events, ev)
			err = decodeWatchEvent(f.b, ev)
		}
		return err
	})
}

func decodeWatchEvent(buf []byte, ev *WatchEvent) error {
	return eachField(buf, func(f field) (err error) {
		switch {
		case f.num == eventSeq && f.typ == protowire.VarintType:
			ev.Seq = f.n
		case f.num == eventTopic && f.typ == protowire.BytesType:
			ev.Topic, err = str(f.b)
		case f.num == eventBytes && f.typ == protowire.BytesType:
			ev.Event = f.b
		}
		return err
	})
}

// decodeWriteRequest decodes a store write by hand: payloads point into
// the request's one copy, store and topic names are shared between the
// items that repeat them, and the ops and items of a request come from one
// allocation each. protobuf-go spent six allocations per item (an ingest
// batch carries thousands), an eighth of the store's CPU under ingest.
// Repeated fields merge as protobuf merges them.
func decodeWriteRequest(buf []byte, m *WriteRequest) error {
	m.Reset()
	names := map[string]string{}
	name := func(b []byte) (string, error) {
		if s, ok := names[string(b)]; ok {
			return s, nil
		}
		s, err := str(b)
		if err == nil {
			names[s] = s
		}
		return s, err
	}
	n := 0 // ops, counted first: ops and items come from one allocation each
	if err := eachField(buf, func(f field) error {
		if f.num == writeOps && f.typ == protowire.BytesType {
			n++
		}
		return nil
	}); err != nil {
		return err
	}
	ops := make([]WriteOp, n)
	items := make([]Item, n)
	wrappers := make([]WriteOp_Item, n)
	m.Ops = make([]*WriteOp, 0, n)
	return eachField(buf, func(f field) (err error) {
		switch {
		case f.num == writeProducer && f.typ == protowire.BytesType:
			m.ProducerId, err = str(f.b)
		case f.num == writeBatch && f.typ == protowire.VarintType:
			m.Batch = f.n
		case f.num == writeOps && f.typ == protowire.BytesType:
			k := len(m.Ops)
			m.Ops = append(m.Ops, &ops[k])
			err = decodeWriteOp(f.b, &ops[k], &items[k], &wrappers[k], name)
		case f.num == writeReturn && f.typ == protowire.VarintType:
			m.ReturnEvents = protowire.DecodeBool(f.n)
		}
		return err
	})
}

func decodeWriteOp(buf []byte, op *WriteOp, item *Item, wrapper *WriteOp_Item, name func([]byte) (string, error)) error {
	return eachField(buf, func(f field) error {
		if f.typ != protowire.BytesType {
			return nil
		}
		// A repeated oneof member merges into the one set; another member
		// replaces it.
		switch f.num {
		case opItem:
			cur, ok := op.Op.(*WriteOp_Item)
			if !ok {
				wrapper.Item = item
				cur = wrapper
				op.Op = cur
			}
			return decodeItem(f.b, cur.Item, name)
		case opReplace:
			cur, ok := op.Op.(*WriteOp_Replace)
			if !ok {
				cur = &WriteOp_Replace{Replace: &Replace{}}
				op.Op = cur
			}
			return decodeReplace(f.b, cur.Replace, name)
		}
		return nil
	})
}

func decodeItem(buf []byte, it *Item, name func([]byte) (string, error)) error {
	return eachField(buf, func(f field) (err error) {
		switch {
		case f.num == itemStore && f.typ == protowire.BytesType:
			it.Store, err = name(f.b)
		case f.num == itemTopic && f.typ == protowire.BytesType:
			it.Topic, err = name(f.b)
		case f.num == itemPayload && f.typ == protowire.BytesType:
			it.Payload = f.b
		case f.num == itemDeadline && f.typ == protowire.VarintType:
			it.Deadline = int64(f.n)
		case f.num == itemEncoding && f.typ == protowire.VarintType:
			it.Encoding = Encoding(int32(f.n))
		}
		return err
	})
}

func decodeReplace(buf []byte, r *Replace, name func([]byte) (string, error)) error {
	return eachField(buf, func(f field) (err error) {
		if f.typ != protowire.BytesType {
			return nil
		}
		switch f.num {
		case replaceStore:
			r.Store, err = name(f.b)
		case replaceTopic:
			r.Topic, err = name(f.b)
		case replacePayloads:
			r.Payloads = append(r.Payloads, f.b)
		}
		return err
	})
}
