package dockerhub

// ShardByRepository splits this kind's scopes between shards by repository
// name: paging the catalog is cheap, the calls per repository are not.
func (p *Provider) ShardByRepository() bool { return true }
