package telegram

import (
	"bytes"
	"image"
	_ "image/gif" // photo formats the stand-in can measure
	_ "image/jpeg"
	_ "image/png"
	"net/url"
	"strings"
)

const maxPhotoBytes = 10 << 20 // Telegram's limit for sendPhoto uploads

// storedFile is an uploaded photo; every size's file_id points at it.
type storedFile struct {
	data        []byte
	contentType string
	sizes       []photoSize
}

// photoRef is where a sendPhoto photo comes from: an upload, a file_id of
// an earlier photo, or an HTTP URL.
type photoRef struct {
	upload *upload
	fileID string
	url    string
}

func photoSource(p *params) (photoRef, error) {
	if f, ok := p.files["photo"]; ok {
		return photoRef{upload: &f}, nil
	}
	v := strings.TrimSpace(p.str("photo"))
	if v == "" {
		return photoRef{}, badRequest("there is no photo in the request")
	}
	if name, ok := strings.CutPrefix(v, "attach://"); ok {
		f, ok := p.files[name]
		if !ok {
			return photoRef{}, badRequest("wrong file identifier/HTTP URL specified")
		}
		return photoRef{upload: &f}, nil
	}
	if u, err := url.Parse(v); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return photoRef{url: v}, nil
	}
	return photoRef{fileID: v}, nil
}

// storePhotoLocked returns the sizes for a photo, storing uploads so their
// file_ids can be sent again and shown on the sandbox page.
func (s *Server) storePhotoLocked(ref photoRef) ([]photoSize, string, error) {
	switch {
	case ref.url != "":
		// Telegram would download it; the stand-in does no outside I/O.
		id, unique := newFileID()
		return []photoSize{{FileID: id, FileUniqueID: unique}}, ref.url, nil
	case ref.fileID != "":
		f, ok := s.files[ref.fileID]
		if !ok {
			return nil, "", badRequest("wrong file identifier/HTTP URL specified")
		}
		return f.sizes, "", nil
	}
	data := ref.upload.data
	if len(data) == 0 {
		return nil, "", badRequest("file must be non-empty")
	}
	if len(data) > maxPhotoBytes {
		return nil, "", badRequest("file is too big")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, "", badRequest("IMAGE_PROCESS_FAILED")
	}
	w, h := cfg.Width, cfg.Height
	if w <= 0 || h <= 0 || w+h > 10000 || w > 20*h || h > 20*w {
		return nil, "", badRequest("PHOTO_INVALID_DIMENSIONS")
	}
	// Telegram stores a few scaled copies; the stand-in keeps the one
	// original but reports the sizes a client would see.
	var sizes []photoSize
	longest := max(w, h)
	for _, limit := range []int{90, 320, 800, 1280} {
		if longest <= limit {
			break
		}
		sizes = append(sizes, photoSize{Width: w * limit / longest, Height: h * limit / longest,
			FileSize: len(data) * limit * limit / (longest * longest)})
	}
	full := photoSize{Width: w, Height: h, FileSize: len(data)}
	if longest > 2560 {
		full = photoSize{Width: w * 2560 / longest, Height: h * 2560 / longest, FileSize: len(data)}
	}
	sizes = append(sizes, full)
	stored := storedFile{data: data, contentType: "image/" + format}
	for i := range sizes {
		sizes[i].FileID, sizes[i].FileUniqueID = newFileID()
		sizes[i].FileSize = max(sizes[i].FileSize, 1)
	}
	stored.sizes = sizes
	for _, size := range sizes {
		s.files[size.FileID] = stored
	}
	return sizes, "", nil
}
