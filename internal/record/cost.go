package record

// Cost is one pool's cost accounting for one UTC day, in base units
// (seconds, dollars). Hours hold the same figures per hour of the day so
// that `caravan cost -since 3h` is exact to the hour. caravan autoscale
// writes one per pool and day in Nomad Variables.
type Cost struct {
	Pool        string  `json:"pool"`
	Date        string  `json:"date"` // 2006-01-02, UTC
	Price       float64 `json:"price_per_hour"`
	GPUsPerNode int     `json:"gpus_per_node"`
	CostFigures
	Hours [24]CostFigures `json:"hours"`
	// RunGPUSeconds are GPU-seconds allocated to each run today.
	RunGPUSeconds map[string]float64 `json:"run_gpu_seconds,omitempty"`
}

// CostFigures are the accumulated figures of a period.
type CostFigures struct {
	// NodeSeconds: machine lifetime paid (names in Terraform state).
	NodeSeconds float64 `json:"node_seconds"`
	// GPUSeconds: GPUs of paid machines × time (nodes × gpus_per_node).
	GPUSeconds float64 `json:"gpu_seconds"`
	// AllocatedGPUSeconds: GPUs held by allocations × time.
	AllocatedGPUSeconds float64 `json:"allocated_gpu_seconds"`
	// Dollars: NodeSeconds × price per hour / 3600.
	Dollars float64 `json:"dollars"`
}

// Add accumulates o into f.
func (f *CostFigures) Add(o CostFigures) {
	f.NodeSeconds += o.NodeSeconds
	f.GPUSeconds += o.GPUSeconds
	f.AllocatedGPUSeconds += o.AllocatedGPUSeconds
	f.Dollars += o.Dollars
}

// IdleGPUSeconds is the paid GPU time no allocation held.
func (f CostFigures) IdleGPUSeconds() float64 {
	return max(f.GPUSeconds-f.AllocatedGPUSeconds, 0)
}
