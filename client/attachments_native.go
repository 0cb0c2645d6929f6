//go:build !js

package client

import (
	"context"

	"github.com/wache/wache/api"
	"github.com/wache/wache/client/attach"
)

// SendFile sends a file from disk as an attachment (photo, video, voice,
// document; the MIME type is detected from its content and name).
func (m *Messenger) SendFile(ctx context.Context, convID, path string, progress attach.Progress) (*api.PostEnvelopeResponse, *attach.Ref, error) {
	bc, err := m.Blobs()
	if err != nil {
		return nil, nil, err
	}
	ref, err := bc.UploadFile(ctx, path, attach.UploadOptions{ConvID: convID, Progress: progress})
	if err != nil {
		return nil, nil, err
	}
	res, err := m.Send(ctx, convID, Payload{V: 1, Type: TypeAttachment, Attachment: &ref})
	return res, &ref, err
}

// FetchFile downloads, decrypts and verifies an attachment into path; the
// file appears only if everything checked out.
func (m *Messenger) FetchFile(ctx context.Context, ref *attach.Ref, path string, progress attach.Progress) error {
	bc, err := m.Blobs()
	if err != nil {
		return err
	}
	return bc.DownloadFile(ctx, *ref, path, progress)
}
