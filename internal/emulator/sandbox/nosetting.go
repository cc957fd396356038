package sandbox

import (
	"github.com/immutag/immutag/internal/emulator"
	"github.com/immutag/immutag/internal/providers"
)

// noSetting reports whether kind's emulator stands for a registry without
// a tag-immutability setting.
func (s *Sandbox) noSetting(kind providers.Kind) bool {
	_, ok := s.Demo(kind).(emulator.NoSetting)
	return ok
}

// NoSettingReason is the exemption reason the sandbox policy gives the
// registries that have no tag-immutability setting.
const NoSettingReason = "no tag-immutability setting exists: tags are recorded (audit --record) and CI fails on an overwrite (--fail-on-overwrite)"
