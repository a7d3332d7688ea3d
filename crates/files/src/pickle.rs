//! The pickle inside a `torch.save` file, parsed and never run. Only what a state dict or a
//! training checkpoint is made of is understood: numbers, strings, tuples, lists, sets, dicts
//! (`collections.OrderedDict` too) and tensors (`torch._utils._rebuild_tensor_v2` over
//! `torch.*Storage`). Any other Python name the pickle imports, such as `os.system` or a class
//! of the training script, is never looked up or called: what it would make is an object of
//! nothing but the attributes the pickle gives it (`BUILD`), so a checkpoint's training arguments
//! (torchvision's reference script saves an `argparse.Namespace` beside the weights) do not stop
//! its weights being read, and a whole pickled `nn.Module` (`torch.save(model)`, or fastai's
//! `Learner.export`, a Learner holding one) gives its tensors the names its `state_dict()`
//! would: its `_parameters` and `_buffers`, and its `_modules`' in turn. A file with no tensor
//! anywhere is refused, naming the first Python name it imports.
//!
//! burn's `pytorch-reader` does the same, but only from a file on disk, and the page has none:
//! it holds the visitor's file as bytes.
//!
//! Containers live in an arena and values point into it, so a pickle that refers to one object
//! many times (or to itself) costs one copy, and the walk over the result is bounded.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// The element types of `torch.*Storage`; only the floating-point ones hold weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StorageType {
    F32,
    F64,
    F16,
    BF16,
    /// Integers and booleans (`num_batches_tracked`, masks), with their width in bytes.
    Other(usize),
}

impl StorageType {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "FloatStorage" => Self::F32,
            "DoubleStorage" => Self::F64,
            "HalfStorage" => Self::F16,
            "BFloat16Storage" => Self::BF16,
            "LongStorage" => Self::Other(8),
            "IntStorage" => Self::Other(4),
            "ShortStorage" => Self::Other(2),
            "CharStorage" | "ByteStorage" | "BoolStorage" => Self::Other(1),
            _ => return None,
        })
    }

    pub fn width(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F64 => 8,
            Self::F16 | Self::BF16 => 2,
            Self::Other(width) => width,
        }
    }
}

/// A tensor as the pickle describes it: a window of a storage saved beside the pickle.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorRef {
    /// The storage's entry name under `data/` in the archive.
    pub storage: String,
    pub dtype: StorageType,
    /// Elements the storage holds, as declared.
    pub storage_len: usize,
    /// In elements, as are the strides.
    pub offset: usize,
    pub shape: Vec<usize>,
    pub strides: Vec<usize>,
}

impl TensorRef {
    /// How many elements it holds, if that fits in a `usize`.
    pub fn elements(&self) -> Option<usize> {
        self.shape.iter().try_fold(1usize, |n, d| n.checked_mul(*d))
    }

    /// The storage elements it needs: one past the furthest it reaches (none when it is empty).
    pub fn end(&self) -> Option<usize> {
        if self.elements() == Some(0) {
            return Some(0);
        }
        let furthest = self
            .shape
            .iter()
            .zip(&self.strides)
            .try_fold(self.offset, |end, (d, s)| end.checked_add(d.checked_sub(1)?.checked_mul(*s)?))?;
        furthest.checked_add(1)
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PickleError {
    #[error(
        "the file refers to the Python name {0}, which is not a tensor or a plain container: xai-lens reads weights and never runs code from a model file (save the model's state_dict() alone)"
    )]
    NotPlainData(String),
    #[error("the pickle is damaged at byte {at}: {what}")]
    Damaged { at: usize, what: String },
    #[error(
        "tensors stored as {0}, which xai does not read: save floating-point weights (the model before quantization; model.float() of a float8 one)"
    )]
    StorageType(String),
    #[error("the pickle nests containers more than {MAX_DEPTH} deep or holds over {MAX_TENSORS} tensors")]
    TooDeep,
    #[error(
        "the pickle runs over {MAX_INSTRUCTIONS} instructions, far more than a model's weights need (save the model's state_dict() alone)"
    )]
    TooLong,
}

/// The deepest nesting of dicts searched for tensors: a state dict inside a checkpoint inside
/// another is three.
const MAX_DEPTH: usize = 16;
const MAX_TENSORS: usize = 100_000;
/// The most instructions run. Each makes at most one object (a value, a container, a mark or a
/// memo entry), of at most 80 bytes here, so this bounds memory: a one-byte instruction would
/// otherwise cost a hundred times its size. A state dict takes about 25 a tensor.
const MAX_INSTRUCTIONS: usize = 1_000_000;

/// A callable the pickle may name.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Callable {
    OrderedDict,
    RebuildTensor,
    RebuildParameter,
    Storage(StorageType),
    /// One of torch's storages of another element type (quantized, float8): [`Machine::unread_storage`].
    UnreadStorage,
    /// Any other name: never called, what it makes is a [`Node::Object`].
    Other,
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    /// An object in the arena.
    Node(usize),
}

#[derive(Debug)]
enum Node {
    Dict(Vec<(Value, Value)>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    Callable(Callable),
    Storage {
        dtype: StorageType,
        key: String,
        len: usize,
    },
    /// Boxed: the largest kind of node, and the rarest.
    Tensor(Box<TensorRef>),
    /// What a name the reader does not know would have made: only what the pickle gives it, its
    /// attributes (`BUILD`'s state: a dict, or a dict and the `__slots__`' values) and, for a
    /// subclass of list or dict, its items (a list's by their indices).
    Object {
        attributes: Option<Value>,
        items: Vec<(Value, Value)>,
    },
}

struct Machine<'a> {
    bytes: &'a [u8],
    at: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    arena: Vec<Node>,
    /// The first name not known, for the error when no tensor is found outside what it made.
    unknown: Option<String>,
    /// The first of torch's storage types that holds no floating-point weights we read.
    unread_storage: Option<String>,
    /// Whether it names fastai's `Learner`.
    learner: bool,
}

/// What a pickle holds that xai reads.
#[derive(Debug, PartialEq)]
pub struct Pickled {
    /// The tensors reachable through dicts and objects, named by their keys joined with dots
    /// (`state_dict.module.conv1.weight`), in the pickle's order.
    pub tensors: Vec<(String, TensorRef)>,
    /// The names in the first object attribute called `vocab` that holds a list of strings, as
    /// fastai's `Learner.export` keeps its classes (its `Categorize` transform's `CategoryMap`).
    pub vocab: Option<Vec<String>>,
    /// How a pickled fastai Learner normalises its input, where the pickle is one.
    pub learner_input: LearnerInput,
    /// The model a training checkpoint's arguments name (`args.model`).
    pub trained_as: Option<String>,
}

/// How a fastai Learner pickled whole (`Learner.export`, which keeps its DataLoaders'
/// transforms) takes its photos.
#[derive(Debug, Clone, PartialEq)]
pub enum LearnerInput<T = TensorRef> {
    /// The pickle holds no Learner.
    NoLearner,
    /// Pixels in [0, 1] (fastai's `IntToFloatTensor`), minus `mean`, over `std` (its `Normalize`
    /// transform's, three values each).
    Normalized { mean: T, std: T },
    /// Pixels in [0, 1] as they are: no `Normalize` among its transforms.
    Unnormalized,
}

/// Parses a pickle, never running it.
pub fn read(bytes: &[u8]) -> Result<Pickled, PickleError> {
    let mut machine = Machine {
        bytes,
        at: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        arena: Vec::new(),
        unknown: None,
        unread_storage: None,
        learner: false,
    };
    let root = machine.run()?;
    let mut walk = Walk { found: Vec::new(), seen: HashSet::new() };
    machine.collect(&root, "", 0, &mut walk)?;
    match machine.unknown {
        Some(name) if walk.found.is_empty() => Err(PickleError::NotPlainData(name)),
        _ => Ok(Pickled {
            vocab: machine.vocab(),
            learner_input: machine.learner_input(),
            trained_as: machine.trained_as(&root),
            tensors: walk.found,
        }),
    }
}

impl Machine<'_> {
    fn damaged<T>(&self, what: impl Into<String>) -> Result<T, PickleError> {
        Err(PickleError::Damaged { at: self.at, what: what.into() })
    }

    fn take(&mut self, len: usize) -> Result<&[u8], PickleError> {
        match self.at.checked_add(len).filter(|end| *end <= self.bytes.len()) {
            Some(end) => {
                let slice = &self.bytes[self.at..end];
                self.at = end;
                Ok(slice)
            }
            None => self.damaged(format!("{len} more bytes were promised than the pickle has")),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], PickleError> {
        Ok(self.take(N)?.try_into().expect("took N bytes"))
    }

    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, PickleError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn len_u64(&mut self) -> Result<usize, PickleError> {
        let len = u64::from_le_bytes(self.array()?);
        usize::try_from(len).or_else(|_| self.damaged("a length beyond memory"))
    }

    fn line(&mut self) -> Result<String, PickleError> {
        let rest = &self.bytes[self.at..];
        let Some(end) = rest.iter().position(|b| *b == b'\n') else { return self.damaged("an unterminated name") };
        let line = String::from_utf8_lossy(&rest[..end]).into_owned();
        self.at += end + 1;
        Ok(line)
    }

    fn text(&mut self, len: usize) -> Result<Value, PickleError> {
        let bytes = self.take(len)?;
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(Value::Str(text.into())),
            Err(_) => self.damaged("a string that is not UTF-8"),
        }
    }

    fn pop(&mut self) -> Result<Value, PickleError> {
        match self.stack.pop() {
            Some(value) => Ok(value),
            None => self.damaged("an empty stack"),
        }
    }

    /// The values pushed since the last mark, and the mark removed.
    fn pop_mark(&mut self) -> Result<Vec<Value>, PickleError> {
        match self.marks.pop() {
            Some(mark) if mark <= self.stack.len() => Ok(self.stack.split_off(mark)),
            _ => self.damaged("a missing mark"),
        }
    }

    fn top(&self) -> Result<&Value, PickleError> {
        match self.stack.last() {
            Some(value) => Ok(value),
            None => self.damaged("an empty stack"),
        }
    }

    fn push_node(&mut self, node: Node) {
        self.arena.push(node);
        self.stack.push(Value::Node(self.arena.len() - 1));
    }

    fn node(&self, value: &Value) -> Option<&Node> {
        match value {
            Value::Node(index) => self.arena.get(*index),
            _ => None,
        }
    }

    fn memo_get(&mut self, key: u32) -> Result<(), PickleError> {
        match self.memo.get(&key) {
            Some(value) => {
                self.stack.push(value.clone());
                Ok(())
            }
            None => self.damaged(format!("memo {key} used before it was set")),
        }
    }

    fn memo_put(&mut self, key: u32) -> Result<(), PickleError> {
        let value = self.top()?.clone();
        self.memo.insert(key, value);
        Ok(())
    }

    fn global(&mut self, module: &str, name: &str) {
        let callable = self.callable(module, name);
        self.push_node(Node::Callable(callable));
    }

    fn callable(&mut self, module: &str, name: &str) -> Callable {
        let known = match (module, name) {
            ("collections", "OrderedDict") => Some(Callable::OrderedDict),
            ("torch._utils", "_rebuild_tensor_v2") => Some(Callable::RebuildTensor),
            ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") => {
                Some(Callable::RebuildParameter)
            }
            ("torch", storage) if storage.ends_with("Storage") => Some(
                StorageType::from_name(storage)
                    .map_or_else(|| self.unread(format!("torch.{storage}")), Callable::Storage),
            ),
            // What torch saves float8 tensors in, their type given apart.
            ("torch.storage", "UntypedStorage") => Some(self.unread("torch.storage.UntypedStorage (float8?)".into())),
            ("fastai.learner", "Learner") => {
                self.learner = true;
                None
            }
            _ => None,
        };
        known.unwrap_or_else(|| {
            self.unknown.get_or_insert_with(|| format!("{module}.{name}"));
            Callable::Other
        })
    }

    fn unread(&mut self, storage: String) -> Callable {
        self.unread_storage.get_or_insert(storage);
        Callable::UnreadStorage
    }

    /// An object made from a class (`NEWOBJ`, `INST`, `OBJ`): a dict from `OrderedDict`, else
    /// an object without attributes yet.
    fn instance(&mut self, class: &Value) -> Result<(), PickleError> {
        match self.node(class) {
            Some(Node::Callable(Callable::OrderedDict)) => self.push_node(Node::Dict(Vec::new())),
            Some(Node::Callable(_) | Node::Object { .. }) => self.push_node(Node::object()),
            _ => return self.damaged("an object of something not a class"),
        }
        Ok(())
    }

    /// The dict or list at `index`, to add to in place (a pickle memoizes a container before
    /// filling it).
    fn container(&mut self, value: &Value) -> Result<&mut Node, PickleError> {
        let at = self.at;
        match value {
            Value::Node(index) => match self.arena.get_mut(*index) {
                Some(node @ (Node::Dict(_) | Node::List(_) | Node::Object { .. })) => Ok(node),
                _ => Err(PickleError::Damaged { at, what: "items added to something not a dict or list".into() }),
            },
            _ => Err(PickleError::Damaged { at, what: "items added to something not a dict or list".into() }),
        }
    }

    /// Adds `items` to the container on top: a list's values, or a dict's keys and values; to
    /// an object (a subclass of either) as `keyed` says.
    fn extend(&mut self, items: Vec<Value>, keyed: bool) -> Result<(), PickleError> {
        let target = self.top()?.clone();
        let at = self.at;
        let pairs = |items: Vec<Value>| {
            if !items.len().is_multiple_of(2) {
                return Err(PickleError::Damaged { at, what: "a key without a value".into() });
            }
            let mut items = items.into_iter();
            Ok(std::iter::from_fn(move || Some((items.next()?, items.next()?))))
        };
        match self.container(&target)? {
            Node::List(list) => list.extend(items),
            Node::Dict(dict) => dict.extend(pairs(items)?),
            Node::Object { items: own, .. } if keyed => own.extend(pairs(items)?),
            Node::Object { items: own, .. } => {
                let start = own.len() as i64;
                own.extend((start..).map(Value::Int).zip(items));
            }
            _ => unreachable!("container() returns dicts, lists and objects"),
        }
        Ok(())
    }

    fn tuple(&self, value: &Value) -> Option<Vec<Value>> {
        match self.node(value)? {
            Node::Tuple(items) => Some(items.clone()),
            _ => None,
        }
    }

    fn usizes(&self, value: &Value) -> Option<Vec<usize>> {
        self.tuple(value)?.iter().map(usize_of).collect()
    }

    /// `callable(*args)` for the few callables a state dict needs.
    fn reduce(&mut self) -> Result<(), PickleError> {
        let args = self.pop()?;
        let callable = self.pop()?;
        let callable = match self.node(&callable) {
            Some(Node::Callable(callable)) => *callable,
            // What an unknown name made (a method `getattr` fetched, say), called: never run.
            Some(Node::Object { .. }) => Callable::Other,
            _ => return self.damaged("a call of a non-callable"),
        };
        if callable == Callable::Other {
            self.push_node(Node::object());
            return Ok(());
        }
        let Some(args) = self.tuple(&args) else { return self.damaged("call arguments that are not a tuple") };
        match (callable, args.as_slice()) {
            (Callable::OrderedDict, []) => self.push_node(Node::Dict(Vec::new())),
            (Callable::RebuildTensor, [storage, offset, shape, strides, ..]) => {
                let Some(Node::Storage { dtype, key, len }) = self.node(storage) else {
                    return self.damaged("a tensor without a storage");
                };
                let (dtype, storage, storage_len) = (*dtype, key.clone(), *len);
                let (Some(offset), Some(shape), Some(strides)) =
                    (usize_of(offset), self.usizes(shape), self.usizes(strides))
                else {
                    return self.damaged("a tensor with a malformed offset, shape or strides");
                };
                if shape.len() != strides.len() {
                    return self.damaged("a tensor with as many strides as dimensions");
                }
                self.push_node(Node::Tensor(Box::new(TensorRef {
                    storage,
                    dtype,
                    storage_len,
                    offset,
                    shape,
                    strides,
                })));
            }
            (Callable::RebuildParameter, [tensor, ..]) => self.stack.push(tensor.clone()),
            (callable, _) => return self.damaged(format!("{callable:?} called with the wrong arguments")),
        }
        Ok(())
    }

    /// `BINPERSID`: `('storage', torch.FloatStorage, key, location, length)`.
    fn persistent_id(&mut self) -> Result<(), PickleError> {
        let id = self.pop()?;
        let fields = self.tuple(&id).unwrap_or_default();
        let [Value::Str(kind), storage_type, Value::Str(key), _location, len, ..] = fields.as_slice() else {
            return self.damaged("a persistent id that is not a storage");
        };
        let (Some(Node::Callable(callable)), Some(len)) = (self.node(storage_type), usize_of(len)) else {
            return self.damaged("a storage of unknown type or length");
        };
        let dtype = match *callable {
            Callable::Storage(dtype) => dtype,
            Callable::UnreadStorage => {
                return Err(PickleError::StorageType(self.unread_storage.clone().unwrap_or_default()))
            }
            _ => return self.damaged("a storage of unknown type"),
        };
        if &**kind != "storage" {
            return self.damaged(format!("a persistent id of kind {kind}"));
        }
        self.push_node(Node::Storage { dtype, key: key.to_string(), len });
        Ok(())
    }

    fn run(&mut self) -> Result<Value, PickleError> {
        for _ in 0..MAX_INSTRUCTIONS {
            let opcode = self.u8()?;
            match opcode {
                0x80 => _ = self.u8()?,                    // PROTO
                0x95 => _ = self.len_u64()?,               // FRAME
                b'.' => return self.pop(),                 // STOP
                b'(' => self.marks.push(self.stack.len()), // MARK
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'J' => {
                    let value = i32::from_le_bytes(self.array()?);
                    self.stack.push(Value::Int(value.into()));
                }
                b'K' => {
                    let value = self.u8()?;
                    self.stack.push(Value::Int(value.into()));
                }
                b'M' => {
                    let value = u16::from_le_bytes(self.array()?);
                    self.stack.push(Value::Int(value.into()));
                }
                0x8a => {
                    // LONG1: a little-endian two's complement integer of n bytes.
                    let len = usize::from(self.u8()?);
                    let bytes = self.take(len)?;
                    if len > 8 {
                        return self.damaged("an integer wider than 64 bits");
                    }
                    let fill = if bytes.last().is_some_and(|b| b & 0x80 != 0) { 0xff } else { 0 };
                    let mut wide = [fill; 8];
                    wide[..len].copy_from_slice(bytes);
                    self.stack.push(Value::Int(i64::from_le_bytes(wide)));
                }
                b'G' => {
                    let value = f64::from_be_bytes(self.array()?);
                    self.stack.push(Value::Float(value));
                }
                b'X' => {
                    let len = self.u32()? as usize;
                    let text = self.text(len)?;
                    self.stack.push(text);
                }
                0x8c => {
                    let len = usize::from(self.u8()?);
                    let text = self.text(len)?;
                    self.stack.push(text);
                }
                0x8d => {
                    let len = self.len_u64()?;
                    let text = self.text(len)?;
                    self.stack.push(text);
                }
                b'C' | b'B' | 0x8e => {
                    let len = match opcode {
                        b'C' => usize::from(self.u8()?),
                        b'B' => self.u32()? as usize,
                        _ => self.len_u64()?,
                    };
                    let bytes = self.take(len)?.into();
                    self.stack.push(Value::Bytes(bytes));
                }
                b'}' => self.push_node(Node::Dict(Vec::new())),
                b']' => self.push_node(Node::List(Vec::new())),
                b')' => self.push_node(Node::Tuple(Vec::new())),
                b't' => {
                    let items = self.pop_mark()?;
                    self.push_node(Node::Tuple(items));
                }
                0x85..=0x87 => {
                    let count = usize::from(opcode - 0x84);
                    if self.stack.len() < count {
                        return self.damaged("a tuple of missing items");
                    }
                    let items = self.stack.split_off(self.stack.len() - count);
                    self.push_node(Node::Tuple(items));
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push_node(Node::List(items));
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    self.push_node(Node::Dict(Vec::new()));
                    self.extend(items, true)?;
                }
                b'a' | b's' => {
                    let count = if opcode == b'a' { 1 } else { 2 };
                    if self.stack.len() < count + 1 {
                        return self.damaged("items added to nothing");
                    }
                    let items = self.stack.split_off(self.stack.len() - count);
                    self.extend(items, opcode == b's')?;
                }
                b'e' | b'u' => {
                    let items = self.pop_mark()?;
                    self.extend(items, opcode == b'u')?;
                }
                b'q' => {
                    let key = self.u8()?;
                    self.memo_put(key.into())?;
                }
                b'r' => {
                    let key = self.u32()?;
                    self.memo_put(key)?;
                }
                0x94 => {
                    let key = u32::try_from(self.memo.len()).unwrap_or(u32::MAX);
                    self.memo_put(key)?;
                }
                b'h' => {
                    let key = self.u8()?;
                    self.memo_get(key.into())?;
                }
                b'j' => {
                    let key = self.u32()?;
                    self.memo_get(key)?;
                }
                b'c' => {
                    let (module, name) = (self.line()?, self.line()?);
                    self.global(&module, &name);
                }
                0x93 => {
                    let (Value::Str(name), Value::Str(module)) = (self.pop()?, self.pop()?) else {
                        return self.damaged("an import by a name that is not a string");
                    };
                    self.global(&module, &name);
                }
                b'R' => self.reduce()?,
                b'Q' => self.persistent_id()?,
                b'b' => {
                    // BUILD sets an object's attributes: `_metadata` on a state dict's
                    // OrderedDict, which only the training code reads, or an object's, kept.
                    let state = self.pop()?;
                    let at = self.at;
                    match self.top()? {
                        &Value::Node(index) => match &mut self.arena[index] {
                            Node::Dict(_) => {}
                            Node::Object { attributes, .. } => *attributes = Some(state),
                            _ => return self.damaged("attributes set on something not a dict or an object"),
                        },
                        _ => return Err(PickleError::Damaged { at, what: "attributes set on a plain value".into() }),
                    }
                }
                0x81 => {
                    // NEWOBJ: cls.__new__(cls, *args).
                    self.pop()?;
                    let class = self.pop()?;
                    self.instance(&class)?;
                }
                0x92 => {
                    // NEWOBJ_EX: with keyword arguments too.
                    self.pop()?;
                    self.pop()?;
                    let class = self.pop()?;
                    self.instance(&class)?;
                }
                b'i' => {
                    // INST (protocol 0): the class named inline, its arguments since the mark.
                    let (module, name) = (self.line()?, self.line()?);
                    self.pop_mark()?;
                    self.global(&module, &name);
                    let class = self.pop()?;
                    self.instance(&class)?;
                }
                b'o' => {
                    // OBJ: the class first among the values since the mark.
                    let items = self.pop_mark()?;
                    let Some(class) = items.first() else { return self.damaged("an object without a class") };
                    self.instance(class)?;
                }
                // Sets, as lists: a checkpoint may hold one among its plain data.
                0x8f => self.push_node(Node::List(Vec::new())),
                0x90 => {
                    let items = self.pop_mark()?;
                    self.extend(items, false)?;
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    self.push_node(Node::List(items));
                }
                b'0' => _ = self.pop()?,
                b'1' => _ = self.pop_mark()?,
                b'2' => {
                    let top = self.top()?.clone();
                    self.stack.push(top);
                }
                other => return self.damaged(format!("unsupported opcode 0x{other:02x}")),
            }
        }
        Err(PickleError::TooLong)
    }

    /// A Learner's normalisation: the first object, not a module, with a `mean` and a `std` of
    /// three values each (fastai's `Normalize` transform).
    fn learner_input(&self) -> LearnerInput {
        if !self.learner {
            return LearnerInput::NoLearner;
        }
        let three = |attributes: &[(Value, Value)], name: &str| match self.node(attribute(attributes, name)?)? {
            Node::Tensor(tensor) if tensor.elements() == Some(3) => Some((**tensor).clone()),
            _ => None,
        };
        let normalize = self.arena.iter().find_map(|node| {
            let Node::Object { attributes: Some(state), .. } = node else { return None };
            let attributes = self.attributes(state)?;
            Some(LearnerInput::Normalized { mean: three(attributes, "mean")?, std: three(attributes, "std")? })
        });
        normalize.unwrap_or(LearnerInput::Unnormalized)
    }

    /// The model a checkpoint's training arguments name: `args.model` of the dict saved, where
    /// timm's train.py and torchvision's reference script keep their `argparse.Namespace`.
    fn trained_as(&self, root: &Value) -> Option<String> {
        let Node::Dict(items) = self.node(root)? else { return None };
        let Node::Object { attributes: Some(state), .. } = self.node(attribute(items, "args")?)? else { return None };
        match attribute(self.attributes(state)?, "model")? {
            Value::Str(name) => Some(name.to_string()),
            _ => None,
        }
    }

    /// The strings of the first object attribute `vocab` that holds some, in the order objects
    /// were made.
    fn vocab(&self) -> Option<Vec<String>> {
        self.arena.iter().find_map(|node| {
            let Node::Object { attributes: Some(state), .. } = node else { return None };
            self.strings(attribute(self.attributes(state)?, "vocab")?, 0)
        })
    }

    /// The strings `value` holds: a list of them, or an object holding one as its items or as
    /// its attribute `items` (fastcore's `L`, fastai's `CategoryMap`), a few objects deep.
    fn strings(&self, value: &Value, depth: usize) -> Option<Vec<String>> {
        let text = |value: &Value| match value {
            Value::Str(text) => Some(text.to_string()),
            _ => None,
        };
        match self.node(value)? {
            Node::List(items) if !items.is_empty() => items.iter().map(text).collect(),
            Node::Object { items, .. } if !items.is_empty() => items.iter().map(|(_, v)| text(v)).collect(),
            Node::Object { attributes: Some(state), .. } if depth < 4 => {
                self.strings(attribute(self.attributes(state)?, "items")?, depth + 1)
            }
            _ => None,
        }
    }

    /// An object's attributes from its `BUILD` state: a dict, or a dict and the `__slots__`'
    /// values.
    fn attributes(&self, state: &Value) -> Option<&[(Value, Value)]> {
        let state = match self.node(state)? {
            Node::Tuple(items) => items.first()?,
            _ => state,
        };
        match self.node(state)? {
            Node::Dict(attributes) => Some(attributes),
            _ => None,
        }
    }

    /// Tensors under `value`, found through dicts with string keys and objects' attributes (a
    /// module's as its `state_dict()` names them), each dict and object walked once.
    fn collect(&self, value: &Value, prefix: &str, depth: usize, walk: &mut Walk) -> Result<(), PickleError> {
        let Value::Node(index) = value else { return Ok(()) };
        let entries = match &self.arena[*index] {
            Node::Tensor(tensor) if walk.found.len() < MAX_TENSORS => {
                walk.found.push((prefix.strip_suffix('.').unwrap_or(prefix).to_string(), (**tensor).clone()));
                return Ok(());
            }
            Node::Tensor(_) => return Err(PickleError::TooDeep),
            Node::Dict(entries) => entries,
            Node::Object { attributes, items } => {
                return self.collect_object(*index, attributes, items, prefix, depth, walk)
            }
            _ => return Ok(()),
        };
        if depth >= MAX_DEPTH {
            return Err(PickleError::TooDeep);
        }
        if !walk.seen.insert(*index) {
            return Ok(());
        }
        self.collect_entries(entries, prefix, depth, walk)
    }

    /// The tensors under a dict's `entries` with string or integer keys, named by them.
    fn collect_entries(
        &self,
        entries: &[(Value, Value)],
        prefix: &str,
        depth: usize,
        walk: &mut Walk,
    ) -> Result<(), PickleError> {
        for (key, value) in entries {
            let key = match key {
                Value::Str(key) => format!("{prefix}{key}."),
                Value::Int(key) => format!("{prefix}{key}."),
                _ => continue,
            };
            self.collect(value, &key, depth + 1, walk)?;
        }
        Ok(())
    }

    /// An object's tensors: an `nn.Module`'s parameters and buffers, then its submodules' under
    /// their names; any other's attributes and items as a dict's keys.
    fn collect_object(
        &self,
        index: usize,
        attributes: &Option<Value>,
        items: &[(Value, Value)],
        prefix: &str,
        depth: usize,
        walk: &mut Walk,
    ) -> Result<(), PickleError> {
        if !walk.seen.insert(index) {
            return Ok(());
        }
        if depth >= MAX_DEPTH {
            return Err(PickleError::TooDeep);
        }
        self.collect_entries(items, prefix, depth, walk)?;
        let Some(attributes) = attributes.as_ref().and_then(|state| self.attributes(state)) else { return Ok(()) };
        if attribute(attributes, "_parameters").is_none() {
            return self.collect_entries(attributes, prefix, depth + 1, walk);
        }
        for group in ["_parameters", "_buffers", "_modules"] {
            if let Some(members) = attribute(attributes, group) {
                // Walked as the module's own dict: the group's name is no part of theirs.
                let Some(Node::Dict(members)) = self.node(members) else { continue };
                for (name, member) in members {
                    let Value::Str(name) = name else { continue };
                    self.collect(member, &format!("{prefix}{name}."), depth + 1, walk)?;
                }
            }
        }
        Ok(())
    }
}

/// The attribute `name` among an object's `attributes`.
fn attribute<'a>(attributes: &'a [(Value, Value)], name: &str) -> Option<&'a Value> {
    attributes.iter().find(|(key, _)| matches!(key, Value::Str(key) if &**key == name)).map(|(_, value)| value)
}

impl Node {
    /// An object as made, before the pickle gives it anything.
    fn object() -> Node {
        Node::Object { attributes: None, items: Vec::new() }
    }
}

/// What a walk over the pickle's objects has found, and the dicts and objects it has been
/// through (a Learner's callbacks refer back to it; a dict may hold itself).
struct Walk {
    found: Vec<(String, TensorRef)>,
    seen: HashSet<usize>,
}

fn usize_of(value: &Value) -> Option<usize> {
    match value {
        Value::Int(v) => usize::try_from(*v).ok(),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn tensors(bytes: &[u8]) -> Result<Vec<(String, TensorRef)>, PickleError> {
        read(bytes).map(|pickled| pickled.tensors)
    }

    /// `pickle.dumps(..., protocol=2)` of what the test names, assembled by hand.
    pub(crate) fn pickle(body: &[u8]) -> Vec<u8> {
        [&[0x80, 2][..], body, b"."].concat()
    }

    #[test]
    fn code_is_never_called_and_a_file_of_nothing_else_is_refused() {
        let code = pickle(b"cposix\nsystem\nX\x02\x00\x00\x00ls\x85R");
        assert_eq!(tensors(&code), Err(PickleError::NotPlainData("posix.system".into())));
        let stacked = [&[0x80, 4][..], b"\x8c\x08builtins\x8c\x04eval\x93.".as_slice()].concat();
        assert_eq!(tensors(&stacked), Err(PickleError::NotPlainData("builtins.eval".into())));
        // A whole module pickled (NEWOBJ, then BUILD with its state): its tensors are inside it.
        let module = pickle(b"ctorchvision.models.resnet\nResNet\nq\x00)\x81}b");
        assert_eq!(tensors(&module), Err(PickleError::NotPlainData("torchvision.models.resnet.ResNet".into())));
    }

    /// A storage `key` of `len` floats, and a 1-D tensor over all of it.
    pub(crate) fn tensor_of(key: &str, len: u8) -> Vec<u8> {
        let mut bytes = b"ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n".to_vec();
        bytes.extend([b'X', key.len() as u8, 0, 0, 0]);
        bytes.extend(key.as_bytes());
        bytes.extend(b"X\x03\x00\x00\x00cpuK");
        bytes.extend([len, b't', b'Q', b'K', 0, b'K', len, 0x85, b'K', 1, 0x85, b't', b'R']);
        bytes
    }

    #[test]
    fn a_checkpoint_s_other_objects_are_stepped_over() {
        // {'model': {'fc.bias': tensor}, 'args': argparse.Namespace(lr=0.1, model='resnet50'),
        //  'seen': {1, 2}, 'device': torch.device('cpu')}, as torchvision's reference script
        //  saves one: its arguments' model is read, nothing else of them.
        let mut body = b"}(X\x05\x00\x00\x00model}X\x07\x00\x00\x00fc.bias".to_vec();
        body.extend(tensor_of("0", 3));
        body.extend(
            b"sX\x04\x00\x00\x00argscargparse\nNamespace\n)\x81}X\x02\x00\x00\x00lrG?\xb9\x99\x99\x99\x99\x99\x9as",
        );
        body.extend(b"X\x05\x00\x00\x00modelX\x08\x00\x00\x00resnet50sb");
        body.extend(b"X\x04\x00\x00\x00seen\x8f(K\x01K\x02\x90");
        body.extend(b"X\x06\x00\x00\x00devicectorch\ndevice\nX\x03\x00\x00\x00cpu\x85Ru");
        let found = tensors(&pickle(&body)).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].0.as_str(), found[0].1.shape.as_slice()), ("model.fc.bias", &[3][..]));
        assert_eq!(read(&pickle(&body)).unwrap().trained_as.as_deref(), Some("resnet50"));
    }

    #[test]
    fn self_reference_and_sharing_stay_bounded() {
        // d = {}; d['a'] = d: the walk goes through each dict once instead of recursing forever.
        let cycle = pickle(b"}q\x00X\x01\x00\x00\x00ah\x00s");
        assert_eq!(tensors(&cycle), Ok(vec![]));
        // A list shared a thousand times is one list.
        let mut shared = b"]q\x00(".to_vec();
        shared.extend(std::iter::repeat_n(*b"h\x00", 1000).flatten());
        shared.extend(b"l");
        assert_eq!(tensors(&pickle(&shared)), Ok(vec![]));
        // Ten dicts, each holding the next under 300 keys: walked once each, not 300^10 times.
        let mut nested = b"}q\x00".to_vec();
        for level in 1..10u8 {
            nested.extend([b'}', b'q', level, b'(']);
            for key in 0..300u16 {
                nested.extend([b'M', key as u8, (key >> 8) as u8, b'h', level - 1]);
            }
            nested.extend(b"u0");
        }
        nested.extend(b"h\x09");
        assert_eq!(tensors(&pickle(&nested)), Ok(vec![]));
    }

    /// `cls.__new__(cls)` (NEWOBJ) with the attributes `state` (BUILD).
    fn object(class: &[u8], state: &[u8]) -> Vec<u8> {
        [b"c", class, b"\n)\x81".as_slice(), state, b"b"].concat()
    }

    /// An `nn.Module` of `class` pickled whole: its `__dict__`, with `parameters` (a dict's items)
    /// and `modules` (likewise).
    fn module(class: &[u8], parameters: &[u8], modules: &[u8]) -> Vec<u8> {
        let dict = |items: &[u8]| [b"ccollections\nOrderedDict\n)R(".as_slice(), items, b"u"].concat();
        let state = [
            b"}(X\x08\x00\x00\x00training\x89X\x0b\x00\x00\x00_parameters".as_slice(),
            &dict(parameters),
            b"X\x08\x00\x00\x00_buffers",
            &dict(b""),
            b"X\x08\x00\x00\x00_modules",
            &dict(modules),
            b"u",
        ]
        .concat();
        object(class, &state)
    }

    #[test]
    fn a_whole_module_s_tensors_are_named_as_its_state_dict_names_them() {
        // torch.save(model): a ResNet whose fc is a Linear with a weight and no bias, its
        // parameters as torch pickles them (`_rebuild_parameter`).
        let weight = [b"ctorch._utils\n_rebuild_parameter\n(".as_slice(), &tensor_of("0", 4), b"\x88)t", b"R"].concat();
        let linear = module(
            b"torch.nn.modules.linear\nLinear",
            &[b"X\x06\x00\x00\x00weight", &weight[..], b"X\x04\x00\x00\x00biasN"].concat(),
            b"",
        );
        let resnet =
            module(b"torchvision.models.resnet\nResNet", b"", &[b"X\x02\x00\x00\x00fc".as_slice(), &linear].concat());
        let found = tensors(&pickle(&resnet)).unwrap();
        assert_eq!(
            found.iter().map(|(name, t)| (name.as_str(), t.shape.clone())).collect::<Vec<_>>(),
            [("fc.weight", vec![4])]
        );
        // fastai's Learner.export: a Learner whose `model` is the module, and whose callback
        // refers back to it, walked once.
        let learner = [
            b"cfastai.learner\nLearner\n)\x81q\x00}(X\x05\x00\x00\x00model".as_slice(),
            &resnet,
            b"X\x03\x00\x00\x00cbs",
            &object(b"fastai.callback.core\nTrainEvalCallback", b"}X\x05\x00\x00\x00learnh\x00s"),
            b"ub",
        ]
        .concat();
        let found = tensors(&pickle(&learner)).unwrap();
        assert_eq!(found.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(), ["model.fc.weight"]);
    }

    #[test]
    fn a_fastai_learners_vocab_is_its_class_names() {
        // Its Categorize transform's `vocab`: a CategoryMap whose `items` is an L of the names.
        let names = b"}X\x05\x00\x00\x00items](X\x03\x00\x00\x00catX\x03\x00\x00\x00doges";
        let list = object(b"fastcore.foundation\nL", names);
        let map = object(
            b"fastai.data.transforms\nCategoryMap",
            &[b"}X\x05\x00\x00\x00items".as_slice(), &list, b"s"].concat(),
        );
        let categorize = object(
            b"fastai.data.transforms\nCategorize",
            &[b"}X\x05\x00\x00\x00vocab".as_slice(), &map, b"s"].concat(),
        );
        let state =
            [b"}(X\x03\x00\x00\x00dls".as_slice(), &categorize, b"X\x01\x00\x00\x00w", &tensor_of("0", 2), b"u"]
                .concat();
        let pickled = read(&pickle(&object(b"fastai.learner\nLearner", &state))).unwrap();
        assert_eq!(pickled.tensors.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(), ["w"]);
        assert_eq!(pickled.vocab, Some(vec!["cat".to_string(), "dog".to_string()]));
    }

    #[test]
    fn damage_is_reported_not_panicked() {
        for bad in [
            &b""[..],
            b"\x80",
            b"\x80\x02X\xff\xff\xff\xff",
            b"\x80\x02h\x05.",
            b"\x80\x02u.",
            b"\x80\x02s.",
            b"\x80\x02\x8a\x09",
        ] {
            assert!(matches!(tensors(bad), Err(PickleError::Damaged { .. })), "{bad:?}");
        }
    }
}
