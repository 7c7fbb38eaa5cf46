/// placeholder
#[derive(Debug)]
pub struct InMemoryStore;
