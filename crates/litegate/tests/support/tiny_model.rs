//! Generates tiny valid `.tflite` models with the flatbuffers crate's
//! generic table builder (field ids follow the TensorFlow Lite schema).

#![allow(dead_code)]

use flatbuffers::{FlatBufferBuilder, WIPOffset};

const TENSOR_FLOAT32: u8 = 0;
const BUILTIN_ADD: i32 = 0;
const OPTIONS_ADD: u8 = 11;

/// `out = a + b` on f32 tensors of `shape`; inputs named `a` and `b`,
/// output `out`. With `constant`, `b` is a constant and the only input is
/// `a`.
pub fn add_model(shape: &[i32], constant: Option<&[f32]>) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();

    // Buffers: 0 is the empty sentinel; 1 holds the constant when present.
    let empty = {
        let start = fbb.start_table();
        fbb.end_table(start)
    };
    let mut buffers = vec![empty];
    if let Some(values) = constant {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let data = fbb.create_vector(&bytes);
        let start = fbb.start_table();
        fbb.push_slot_always(4, data);
        buffers.push(fbb.end_table(start));
    }
    let buffers = fbb.create_vector(&buffers);

    let tensor = |fbb: &mut FlatBufferBuilder, name: &str, buffer: u32| {
        let shape = fbb.create_vector(shape);
        let name = fbb.create_string(name);
        let start = fbb.start_table();
        fbb.push_slot_always(4, shape);
        fbb.push_slot::<u8>(6, TENSOR_FLOAT32, 255);
        fbb.push_slot::<u32>(8, buffer, u32::MAX);
        fbb.push_slot_always(10, name);
        fbb.end_table(start)
    };
    let t_a = tensor(&mut fbb, "a", 0);
    let t_b = tensor(&mut fbb, "b", if constant.is_some() { 1 } else { 0 });
    let t_out = tensor(&mut fbb, "out", 0);
    let tensors = fbb.create_vector(&[t_a, t_b, t_out]);

    let add_options = {
        let start = fbb.start_table();
        fbb.end_table(start)
    };
    let op_inputs = fbb.create_vector(&[0i32, 1]);
    let op_outputs = fbb.create_vector(&[2i32]);
    let op = {
        let start = fbb.start_table();
        fbb.push_slot::<u32>(4, 0, u32::MAX);
        fbb.push_slot_always(6, op_inputs);
        fbb.push_slot_always(8, op_outputs);
        fbb.push_slot::<u8>(10, OPTIONS_ADD, 0);
        fbb.push_slot_always(12, add_options);
        fbb.end_table(start)
    };
    let operators = fbb.create_vector(&[op]);
    let sg_inputs: WIPOffset<_> = if constant.is_some() {
        fbb.create_vector(&[0i32])
    } else {
        fbb.create_vector(&[0i32, 1])
    };
    let sg_outputs = fbb.create_vector(&[2i32]);
    let sg_name = fbb.create_string("main");
    let subgraph = {
        let start = fbb.start_table();
        fbb.push_slot_always(4, tensors);
        fbb.push_slot_always(6, sg_inputs);
        fbb.push_slot_always(8, sg_outputs);
        fbb.push_slot_always(10, operators);
        fbb.push_slot_always(12, sg_name);
        fbb.end_table(start)
    };
    let subgraphs = fbb.create_vector(&[subgraph]);
    let opcode = {
        let start = fbb.start_table();
        fbb.push_slot::<i8>(4, BUILTIN_ADD as i8, 0);
        fbb.push_slot::<i32>(8, 1, 1);
        fbb.push_slot::<i32>(10, BUILTIN_ADD, 0);
        fbb.end_table(start)
    };
    let opcodes = fbb.create_vector(&[opcode]);
    let description = fbb.create_string("litegate test ADD");
    let model = {
        let start = fbb.start_table();
        fbb.push_slot::<u32>(4, 3, 0);
        fbb.push_slot_always(6, opcodes);
        fbb.push_slot_always(8, subgraphs);
        fbb.push_slot_always(10, description);
        fbb.push_slot_always(12, buffers);
        fbb.end_table(start)
    };
    fbb.finish(model, Some("TFL3"));
    fbb.finished_data().to_vec()
}
