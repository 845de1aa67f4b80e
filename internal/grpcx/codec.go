package grpcx

import (
	"errors"
	"unicode/utf8"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/messageplane/mp/internal/bufpool"
	mpv1 "github.com/messageplane/mp/proto/messageplane/v1"
)

// bulkCodec is the codec of every connection to the store (Dial) and of the
// store's server (ServerOptions); both sides still speak plain protobuf.
// protobuf-go copies every bytes field out of a received message: for a
// Watch batch one allocation and copy per event (half of mp-pub's CPU under
// ingest), for a 5 MB read a second copy of it, for a write six
// allocations per item. This codec copies the message once into a buffer
// of its own and decodes WatchResponse, ReadResponse and WriteRequest by
// hand, their bytes pointing into that buffer, and marshals a
// ReadResponse around its items without copying them; every other
// message goes through gRPC's proto codec.
type bulkCodec struct{}

func protoCodec() encoding.CodecV2 { return encoding.GetCodecV2("proto") }

// Name is the content-subtype: the store sees ordinary protobuf.
func (bulkCodec) Name() string { return "proto" }

func (bulkCodec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(*mpv1.ReadResponse); ok {
		return marshalReadResponse(m), nil
	}
	return protoCodec().Marshal(v)
}

// marshalReadResponse encodes a read reply around its items without
// copying them (megabytes for a large read): gRPC writes the items from
// where the store rendered them and then hands the buffer back to the
// pool. The response must not be used once marshaled.
func marshalReadResponse(m *mpv1.ReadResponse) mem.BufferSlice {
	var head, tail []byte
	if len(m.Items) > 0 {
		head = protowire.AppendTag(head, 1, protowire.BytesType)
		head = protowire.AppendVarint(head, uint64(len(m.Items)))
	}
	if m.Truncated {
		tail = protowire.AppendVarint(protowire.AppendTag(tail, 2, protowire.VarintType), 1)
	}
	if m.HeadSeq != 0 {
		tail = protowire.AppendVarint(protowire.AppendTag(tail, 3, protowire.VarintType), m.HeadSeq)
	}
	if m.Epoch != "" {
		tail = protowire.AppendString(protowire.AppendTag(tail, 4, protowire.BytesType), m.Epoch)
	}
	if m.Count != 0 {
		tail = protowire.AppendVarint(protowire.AppendTag(tail, 5, protowire.VarintType), uint64(m.Count))
	}
	items := m.Items
	m.Items = nil
	return mem.BufferSlice{mem.SliceBuffer(head), mem.NewBuffer(&items, bufpool.Default), mem.SliceBuffer(tail)}
}

func (bulkCodec) Unmarshal(data mem.BufferSlice, v any) error {
	switch m := v.(type) {
	case *mpv1.WatchResponse:
		return decodeWatchResponse(data.Materialize(), m)
	case *mpv1.ReadResponse:
		return decodeReadResponse(data.Materialize(), m)
	case *mpv1.WriteRequest:
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

func decodeReadResponse(buf []byte, m *mpv1.ReadResponse) error {
	m.Reset()
	return eachField(buf, func(f field) (err error) {
		switch {
		case f.num == 1 && f.typ == protowire.BytesType:
			m.Items = f.b
		case f.num == 2 && f.typ == protowire.VarintType:
			m.Truncated = protowire.DecodeBool(f.n)
		case f.num == 3 && f.typ == protowire.VarintType:
			m.HeadSeq = f.n
		case f.num == 4 && f.typ == protowire.BytesType:
			m.Epoch, err = str(f.b)
		case f.num == 5 && f.typ == protowire.VarintType:
			m.Count = uint32(f.n)
		}
		return err
	})
}

func decodeWatchResponse(buf []byte, m *mpv1.WatchResponse) error {
	m.Reset()
	n := 0 // events, counted first: they come from one allocation
	if err := eachField(buf, func(f field) error {
		if f.num == 5 && f.typ == protowire.BytesType {
			n++
		}
		return nil
	}); err != nil {
		return err
	}
	events := make([]mpv1.WatchEvent, n)
	m.Events = make([]*mpv1.WatchEvent, 0, n)
	return eachField(buf, func(f field) (err error) {
		switch {
		case f.num == 1 && f.typ == protowire.BytesType:
			m.Epoch, err = str(f.b)
		case f.num == 2 && f.typ == protowire.VarintType:
			m.EpochReset = protowire.DecodeBool(f.n)
		case f.num == 3 && f.typ == protowire.VarintType:
			m.Skipped = f.n
		case f.num == 4 && f.typ == protowire.VarintType:
			m.HeadSeq = f.n
		case f.num == 5 && f.typ == protowire.BytesType:
			ev := &events[len(m.Events)]
			m.Events = append(m.Events, ev)
			err = decodeWatchEvent(f.b, ev)
		}
		return err
	})
}

func decodeWatchEvent(buf []byte, ev *mpv1.WatchEvent) error {
	return eachField(buf, func(f field) (err error) {
		switch {
		case f.num == 1 && f.typ == protowire.VarintType:
			ev.Seq = f.n
		case f.num == 2 && f.typ == protowire.BytesType:
			ev.Topic, err = str(f.b)
		case f.num == 3 && f.typ == protowire.BytesType:
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
func decodeWriteRequest(buf []byte, m *mpv1.WriteRequest) error {
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
		if f.num == 3 && f.typ == protowire.BytesType {
			n++
		}
		return nil
	}); err != nil {
		return err
	}
	ops := make([]mpv1.WriteOp, n)
	items := make([]mpv1.Item, n)
	wrappers := make([]mpv1.WriteOp_Item, n)
	m.Ops = make([]*mpv1.WriteOp, 0, n)
	return eachField(buf, func(f field) (err error) {
		switch {
		case f.num == 1 && f.typ == protowire.BytesType:
			m.ProducerId, err = str(f.b)
		case f.num == 2 && f.typ == protowire.VarintType:
			m.Batch = f.n
		case f.num == 3 && f.typ == protowire.BytesType:
			k := len(m.Ops)
			m.Ops = append(m.Ops, &ops[k])
			err = decodeWriteOp(f.b, &ops[k], &items[k], &wrappers[k], name)
		case f.num == 4 && f.typ == protowire.VarintType:
			m.ReturnEvents = protowire.DecodeBool(f.n)
		}
		return err
	})
}

func decodeWriteOp(buf []byte, op *mpv1.WriteOp, item *mpv1.Item, wrapper *mpv1.WriteOp_Item, name func([]byte) (string, error)) error {
	return eachField(buf, func(f field) error {
		if f.typ != protowire.BytesType {
			return nil
		}
		// A repeated oneof member merges into the one set; another member
		// replaces it.
		switch f.num {
		case 1:
			cur, ok := op.Op.(*mpv1.WriteOp_Item)
			if !ok {
				wrapper.Item = item
				cur = wrapper
				op.Op = cur
			}
			it := cur.Item
			return decodeTarget(f.b, &it.Store, &it.Topic, func(b []byte) { it.Payload = b }, it, name)
		case 2:
			cur, ok := op.Op.(*mpv1.WriteOp_Replace)
			if !ok {
				cur = &mpv1.WriteOp_Replace{Replace: &mpv1.Replace{}}
				op.Op = cur
			}
			r := cur.Replace
			return decodeTarget(f.b, &r.Store, &r.Topic, func(b []byte) { r.Payloads = append(r.Payloads, b) }, nil, name)
		}
		return nil
	})
}

// decodeTarget decodes an Item or a Replace: store (1), topic (2) and
// payload bytes (3), which Item keeps the last of and Replace collects, and
// an Item's deadline (4) and encoding (5) (item is nil for a Replace).
func decodeTarget(buf []byte, store, topic *string, payload func([]byte), item *mpv1.Item, name func([]byte) (string, error)) error {
	return eachField(buf, func(f field) (err error) {
		if item != nil && f.typ == protowire.VarintType {
			switch f.num {
			case 4:
				item.Deadline = int64(f.n)
			case 5:
				item.Encoding = mpv1.Encoding(int32(f.n))
			}
			return nil
		}
		if f.typ != protowire.BytesType {
			return nil
		}
		switch f.num {
		case 1:
			*store, err = name(f.b)
		case 2:
			*topic, err = name(f.b)
		case 3:
			payload(f.b)
		}
		return err
	})
}
