package nomadtest

import (
	"net/http"

	"github.com/hashicorp/nomad/api"
)

// ServerVersionDefault is the version the fake's one server reports,
// the Nomad the fixtures were recorded from.
const ServerVersionDefault = "2.0.5"

// SetServerVersion changes the version /v1/agent/members reports.
func (s *Server) SetServerVersion(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serverVersion = v
}

func (s *Server) handleMembers(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	v := s.serverVersion
	s.mu.Unlock()
	if v == "" {
		v = ServerVersionDefault
	}
	s.writeJSON(w, s.Index(), &api.ServerMembers{ServerName: "fake", ServerRegion: "global", ServerDC: "dc1",
		Members: []*api.AgentMember{{Name: "fake.global", Addr: "127.0.0.1", Port: 4648, Status: "alive",
			Tags: map[string]string{"build": v, "region": "global", "role": "nomad"}}}})
}
