package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/client/attach"
)

// Blobs returns the attachment transfer client of this device.
func (m *Messenger) Blobs() (*attach.Client, error) {
	return attach.New(m.API.Server(), m.API.token, nil)
}

// SendAttachment encrypts src on the device with a fresh key, uploads the
// ciphertext resumably, and sends the key and hash inside an MLS message.
func (m *Messenger) SendAttachment(ctx context.Context, convID string, src io.ReaderAt, size int64, o attach.UploadOptions) (*api.PostEnvelopeResponse, *attach.Ref, error) {
	bc, err := m.Blobs()
	if err != nil {
		return nil, nil, err
	}
	o.ConvID = convID
	ref, err := bc.Upload(ctx, src, size, o)
	if err != nil {
		return nil, nil, err
	}
	res, err := m.Send(ctx, convID, Payload{V: 1, Type: TypeAttachment, Attachment: &ref})
	return res, &ref, err
}

// FetchAttachment downloads and decrypts an attachment into w, verifying
// every chunk and the SHA-256; on error, what was written must be discarded.
func (m *Messenger) FetchAttachment(ctx context.Context, ref *attach.Ref, w io.Writer, progress attach.Progress) error {
	if ref == nil {
		return wache.Errorf(wache.EINVALID, "no attachment")
	}
	bc, err := m.Blobs()
	if err != nil {
		return err
	}
	return bc.Download(ctx, *ref, w, progress)
}

func attachmentKey(convID string, seq int64) string { return fmt.Sprintf("a_%s_%d", convID, seq) }

// AttachmentRef returns the reference of an attachment message this device
// received (or ENOTFOUND).
func (m *Messenger) AttachmentRef(ctx context.Context, convID string, seq int64) (*attach.Ref, error) {
	b, err := m.st.Load(ctx, attachmentKey(convID, seq))
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, wache.Errorf(wache.ENOTFOUND, "message #%d is not an attachment this device received", seq)
	}
	var ref attach.Ref
	if err := json.Unmarshal(b, &ref); err != nil {
		return nil, fmt.Errorf("attachment reference is corrupt: %w", err)
	}
	return &ref, nil
}
