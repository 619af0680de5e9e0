package telegram

import (
	"context"
	"encoding/json"
	"slices"
)

// commandsKey identifies a command list by scope type and language, the
// way Telegram keeps one list per combination.
func commandsKey(p *params) (string, error) {
	scope := "default"
	if p.has("scope") {
		var sc struct {
			Type string `json:"type"`
		}
		if _, err := p.json("scope", &sc); err != nil {
			return "", err
		}
		if sc.Type != "" {
			scope = sc.Type
		}
	}
	return scope + "/" + p.str("language_code"), nil
}

func validCommand(c BotCommand) bool {
	if len(c.Command) == 0 || len(c.Command) > 32 {
		return false
	}
	for _, r := range c.Command {
		if !(r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9')) {
			return false
		}
	}
	return true
}

func (s *Server) setMyCommands(_ context.Context, p *params) (any, error) {
	var cmds []BotCommand
	if err := json.Unmarshal([]byte(p.str("commands")), &cmds); err != nil {
		return nil, badRequest("can't parse commands JSON object")
	}
	if len(cmds) > 100 {
		return nil, badRequest("too many commands specified")
	}
	for _, c := range cmds {
		if !validCommand(c) {
			return nil, badRequest("BOT_COMMAND_INVALID")
		}
		if n := utf16Len(c.Description); n == 0 || n > 256 {
			return nil, badRequest("BOT_COMMAND_DESCRIPTION_INVALID")
		}
	}
	key, err := commandsKey(p)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(cmds) == 0 {
		delete(s.commands, key)
	} else {
		s.commands[key] = cmds
	}
	return true, nil
}

func (s *Server) getMyCommands(_ context.Context, p *params) (any, error) {
	key, err := commandsKey(p)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.commands[key])
	if out == nil {
		out = []BotCommand{}
	}
	return out, nil
}

func (s *Server) deleteMyCommands(_ context.Context, p *params) (any, error) {
	key, err := commandsKey(p)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.commands, key)
	return true, nil
}

// Commands returns the command menu a private chat with a user of the
// given language shows, resolved across scopes as Telegram documents.
func (s *Server) Commands(languageCode string) []BotCommand {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, key := range []string{
		"all_private_chats/" + languageCode, "all_private_chats/",
		"default/" + languageCode, "default/",
	} {
		if cmds, ok := s.commands[key]; ok {
			return slices.Clone(cmds)
		}
	}
	return nil
}

// profileText returns a setter for one of the bot's profile texts
// (description, short description, name): validated and acknowledged, as
// only the real Telegram client shows them.
func profileText(param string, limit int) method {
	return func(_ context.Context, p *params) (any, error) {
		if n := utf16Len(p.str(param)); n > limit {
			return nil, badRequest("%s is too long", param)
		}
		return true, nil
	}
}

func (s *Server) setChatMenuButton(_ context.Context, p *params) (any, error) {
	var button struct {
		Type string `json:"type"`
	}
	if _, err := p.json("menu_button", &button); err != nil {
		return nil, err
	}
	switch button.Type {
	case "", "default", "commands", "web_app":
		return true, nil
	}
	return nil, badRequest("can't parse menu_button JSON object")
}
