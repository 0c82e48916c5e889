//! The one error type of the data domain. Messages name ids, never
//! filesystem paths; I/O details travel in `source` for the logs.

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The request names something unusable (400).
    #[error("{0}")]
    InvalidInput(String),
    /// The scan, fileset, file or timelapse does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The thing to create exists already (409).
    #[error("{0}")]
    Conflict(String),
    /// Over a configured size limit (413).
    #[error("{0}")]
    TooLarge(String),
    /// A lock of the Python lock protocol could not be taken in time (503).
    #[error("{0}")]
    Busy(String),
    /// A file on disk could not be read or written: our (or the disk's)
    /// fault, logged with its source, never sent to the client (500).
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A file on disk is not what it should be (500 unless the route maps it).
    #[error("{0}")]
    Corrupt(String),
}

impl DataError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        DataError::Io {
            context: context.into(),
            source,
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        DataError::NotFound(what.into())
    }

    pub fn invalid(what: impl Into<String>) -> Self {
        DataError::InvalidInput(what.into())
    }

    /// The same error again, for several callers of one operation (an I/O
    /// error keeps its kind and text).
    pub fn duplicate(&self) -> Self {
        match self {
            DataError::InvalidInput(m) => DataError::InvalidInput(m.clone()),
            DataError::NotFound(m) => DataError::NotFound(m.clone()),
            DataError::Conflict(m) => DataError::Conflict(m.clone()),
            DataError::TooLarge(m) => DataError::TooLarge(m.clone()),
            DataError::Busy(m) => DataError::Busy(m.clone()),
            DataError::Corrupt(m) => DataError::Corrupt(m.clone()),
            DataError::Io { context, source } => DataError::Io {
                context: context.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
        }
    }
}
