//! Deterministic, seeded sample data for the Petro.ai store: wells
//! (`Well`), monthly production with hyperbolic decline
//! (`MonthlyProduction`) and the docs' `petron` examples.
//!
//! The same seed and size always give the same records (ids included), so
//! examples and tests can name them.

use serde_json::{json, Map, Value};

use super::dates::{days_from_civil, days_in_month, format_date};
use super::error::EmulatorError;
use super::store::Store;

/// Type name of the wells.
pub const WELL_TYPE: &str = "Well";
/// Type name of the monthly production records.
pub const PRODUCTION_TYPE: &str = "MonthlyProduction";
/// Type name of the docs' example type.
pub const PETRON_TYPE: &str = "petron";

/// A small, fast, seedable PRNG (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    /// Uniform integer in `[lo, hi]`.
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % ((hi - lo + 1).max(1) as u64)) as i64
    }
    /// One element of a non-empty slice (the first when empty is impossible).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len().max(1) as u64) as usize % items.len().max(1)]
    }
    /// A 24-hex-digit id (MongoDB ObjectId-sized).
    pub fn hex_id(&mut self) -> String {
        format!("{:016x}{:08x}", self.next_u64(), self.next_u64() as u32)
    }
}

struct Basin {
    name: &'static str,
    counties: &'static [(&'static str, &'static str, u32, u32)], // state, county, state code, county code
    formations: &'static [&'static str],
    operators: &'static [&'static str],
    lat: f64,
    lon: f64,
    weight: u32,
    oil_qi: (f64, f64), // bbl/day, first month
    gor: (f64, f64),    // Mcf/bbl
    wor: (f64, f64),    // bbl water / bbl oil
    depth: (f64, f64),  // tvd ft
}

const BASINS: &[Basin] = &[
    Basin {
        name: "Permian",
        counties: &[
            ("Texas", "Midland", 42, 329),
            ("Texas", "Martin", 42, 317),
            ("Texas", "Howard", 42, 227),
            ("Texas", "Reagan", 42, 383),
            ("Texas", "Upton", 42, 461),
            ("Texas", "Glasscock", 42, 173),
        ],
        formations: &["Wolfcamp A", "Wolfcamp B", "Lower Spraberry", "Jo Mill"],
        operators: &[
            "Caprock Operating",
            "Llano Resources",
            "Mesa Ridge Energy",
            "Big Spring Petroleum",
        ],
        lat: 31.95,
        lon: -101.9,
        weight: 30,
        oil_qi: (500.0, 1300.0),
        gor: (1.2, 2.8),
        wor: (1.5, 3.5),
        depth: (8_500.0, 10_500.0),
    },
    Basin {
        name: "Delaware",
        counties: &[
            ("Texas", "Reeves", 42, 389),
            ("Texas", "Loving", 42, 301),
            ("Texas", "Ward", 42, 475),
            ("New Mexico", "Eddy", 30, 15),
            ("New Mexico", "Lea", 30, 25),
        ],
        formations: &["Wolfcamp A", "Bone Spring", "Avalon", "Wolfcamp XY"],
        operators: &[
            "Pecos Basin Energy",
            "Salt Flat Resources",
            "Guadalupe Operating",
            "Llano Resources",
        ],
        lat: 31.75,
        lon: -103.65,
        weight: 22,
        oil_qi: (600.0, 1600.0),
        gor: (2.0, 4.5),
        wor: (2.5, 5.0),
        depth: (9_500.0, 12_000.0),
    },
    Basin {
        name: "Eagle Ford",
        counties: &[
            ("Texas", "Karnes", 42, 255),
            ("Texas", "DeWitt", 42, 123),
            ("Texas", "Gonzales", 42, 177),
            ("Texas", "La Salle", 42, 283),
            ("Texas", "McMullen", 42, 311),
        ],
        formations: &["Eagle Ford", "Austin Chalk"],
        operators: &["Brush Country Oil", "Frio Energy", "Mesa Ridge Energy"],
        lat: 28.85,
        lon: -98.05,
        weight: 14,
        oil_qi: (400.0, 1100.0),
        gor: (0.8, 3.0),
        wor: (0.4, 1.2),
        depth: (9_000.0, 12_500.0),
    },
    Basin {
        name: "Bakken",
        counties: &[
            ("North Dakota", "McKenzie", 33, 53),
            ("North Dakota", "Mountrail", 33, 61),
            ("North Dakota", "Williams", 33, 105),
            ("North Dakota", "Dunn", 33, 25),
        ],
        formations: &["Middle Bakken", "Three Forks"],
        operators: &[
            "Badlands Energy",
            "Prairie Wind Oil",
            "Missouri Breaks Resources",
        ],
        lat: 47.85,
        lon: -103.2,
        weight: 14,
        oil_qi: (450.0, 1200.0),
        gor: (0.9, 2.0),
        wor: (0.8, 1.8),
        depth: (10_000.0, 11_200.0),
    },
    Basin {
        name: "DJ Basin",
        counties: &[("Colorado", "Weld", 5, 123), ("Colorado", "Adams", 5, 1)],
        formations: &["Niobrara B", "Niobrara C", "Codell"],
        operators: &["Front Range Petroleum", "Platte Valley Energy"],
        lat: 40.4,
        lon: -104.55,
        weight: 6,
        oil_qi: (250.0, 700.0),
        gor: (3.0, 6.0),
        wor: (0.3, 0.8),
        depth: (6_800.0, 7_600.0),
    },
    Basin {
        name: "Anadarko",
        counties: &[
            ("Oklahoma", "Kingfisher", 35, 73),
            ("Oklahoma", "Canadian", 35, 17),
            ("Oklahoma", "Grady", 35, 51),
            ("Oklahoma", "Blaine", 35, 11),
        ],
        formations: &["Meramec", "Woodford", "Osage"],
        operators: &["Red Fork Petroleum", "Cimarron Operating"],
        lat: 35.55,
        lon: -97.95,
        weight: 6,
        oil_qi: (250.0, 800.0),
        gor: (3.0, 8.0),
        wor: (1.0, 2.5),
        depth: (8_000.0, 11_000.0),
    },
    Basin {
        name: "Haynesville",
        counties: &[
            ("Louisiana", "Caddo", 17, 17),
            ("Louisiana", "DeSoto", 17, 31),
            ("Texas", "Panola", 42, 365),
        ],
        formations: &["Haynesville", "Bossier"],
        operators: &["Sabine Natural Gas", "Cypress Bayou Energy"],
        lat: 32.15,
        lon: -93.75,
        weight: 4,
        oil_qi: (5.0, 30.0),
        gor: (300.0, 900.0),
        wor: (2.0, 6.0),
        depth: (11_000.0, 13_500.0),
    },
    Basin {
        name: "Appalachian",
        counties: &[
            ("Pennsylvania", "Susquehanna", 37, 115),
            ("Pennsylvania", "Washington", 37, 125),
            ("Pennsylvania", "Greene", 37, 59),
        ],
        formations: &["Marcellus", "Utica"],
        operators: &["Keystone Appalachian", "Allegheny Shale Gas"],
        lat: 40.9,
        lon: -77.0,
        weight: 4,
        oil_qi: (2.0, 20.0),
        gor: (500.0, 1500.0),
        wor: (1.0, 3.0),
        depth: (6_500.0, 8_500.0),
    },
];

fn pick_basin(rng: &mut Rng) -> &'static Basin {
    let total: u32 = BASINS.iter().map(|b| b.weight).sum();
    let mut x = (rng.next_u64() % total as u64) as u32;
    for b in BASINS {
        if x < b.weight {
            return b;
        }
        x -= b.weight;
    }
    &BASINS[0]
}

fn round(x: f64, places: i32) -> f64 {
    let p = 10f64.powi(places);
    (x * p).round() / p
}

/// How much sample data to make.
#[derive(Debug, Clone, Copy)]
pub struct SampleSize {
    /// Number of wells.
    pub wells: usize,
    /// Most months of production per well.
    pub max_months: u32,
}

impl Default for SampleSize {
    fn default() -> Self {
        Self {
            wells: 2000,
            max_months: 36,
        }
    }
}

/// Generate the sample records for `seed` and load them into `store`.
pub fn load(store: &Store, seed: u64, size: SampleSize) -> Result<(), EmulatorError> {
    let mut rng = Rng::new(seed);
    let mut wells = Vec::with_capacity(size.wells);
    let mut production = Vec::with_capacity(size.wells * size.max_months as usize);
    // Last month with reported production.
    let (end_y, end_m) = (2025i64, 12u32);
    for i in 0..size.wells {
        let b = pick_basin(&mut rng);
        let &(state, county, st_code, co_code) = rng.pick(b.counties);
        let api10 = format!("{st_code:02}{co_code:03}{:05}", 10_000 + i);
        let api14 = format!("{api10}0100");
        let spud = days_from_civil(2016, 1, 1) + rng.int(0, 8 * 365);
        let completion = spud + rng.int(30, 120);
        let first_prod = completion + rng.int(10, 45);
        let tvd = rng.range(b.depth.0, b.depth.1).round();
        let lateral = (rng.range(4_500.0, 12_500.0) / 10.0).round() * 10.0;
        let stages = (lateral / rng.range(180.0, 260.0)).round().max(10.0);
        let proppant = (lateral * rng.range(1_600.0, 2_800.0) / 1000.0).round() * 1000.0;
        let fluid = (proppant / rng.range(45.0, 75.0)).round();
        let id = rng.hex_id();
        let mut w = Map::new();
        w.insert("id".into(), json!(id));
        w.insert("wellId".into(), json!(api14));
        w.insert("api10".into(), json!(api10));
        w.insert("api14".into(), json!(api14));
        w.insert(
            "wellName".into(),
            json!(format!(
                "{} {}-{} {}H",
                county.to_uppercase(),
                rng.int(1, 60),
                rng.int(1, 36),
                rng.int(1, 12)
            )),
        );
        w.insert("operatorName".into(), json!(rng.pick(b.operators)));
        w.insert("basinName".into(), json!(b.name));
        w.insert("stateName".into(), json!(state));
        w.insert("countyName".into(), json!(county));
        w.insert("formationName".into(), json!(rng.pick(b.formations)));
        w.insert("spudDate".into(), json!(format_date(spud)));
        w.insert("completionDate".into(), json!(format_date(completion)));
        w.insert("firstProductionDate".into(), json!(format_date(first_prod)));
        w.insert(
            "surfaceLoc_lat".into(),
            json!(round(b.lat + rng.range(-0.6, 0.6), 6)),
        );
        w.insert(
            "surfaceLoc_lon".into(),
            json!(round(b.lon + rng.range(-0.7, 0.7), 6)),
        );
        w.insert(
            "measuredDepth_ft".into(),
            json!(tvd + lateral + rng.range(300.0, 900.0).round()),
        );
        w.insert("tvd_ft".into(), json!(tvd));
        w.insert("lateralLength_ft".into(), json!(lateral));
        w.insert("fracStages".into(), json!(stages as i64));
        w.insert("totalProppant_lb".into(), json!(proppant));
        w.insert("totalFluidPumped_bbl".into(), json!(fluid));

        // Hyperbolic (Arps) decline: q(t) = qi / (1 + b Di t)^(1/b), t in years.
        let lateral_factor = lateral / 9_000.0;
        let qi = rng.range(b.oil_qi.0, b.oil_qi.1) * lateral_factor;
        let b_exp = rng.range(0.8, 1.3);
        let di = rng.range(1.2, 2.6); // nominal, per year
        let gor = rng.range(b.gor.0, b.gor.1);
        let gor_growth = rng.range(0.05, 0.25); // GOR rises as pressure falls
        let wor = rng.range(b.wor.0, b.wor.1);
        let (mut y, mut m, d) = super::dates::civil_from_days(first_prod);
        let mut first = true;
        let mut cum = 0.0;
        let mut gas_cum = 0.0;
        let mut water_cum = 0.0;
        let mut month_idx = 0u32;
        while (y, m) <= (end_y, end_m) && month_idx < size.max_months {
            let dim = days_in_month(y, m) as f64;
            let days_on = if first { dim - d as f64 + 1.0 } else { dim };
            let uptime = if rng.unit() < 0.06 {
                rng.range(0.4, 0.9)
            } else {
                rng.range(0.96, 1.0)
            };
            let t = (month_idx as f64 + 0.5) / 12.0;
            let q = qi / (1.0 + b_exp * di * t).powf(1.0 / b_exp);
            let oil = q * days_on * uptime * rng.range(0.95, 1.05);
            let gas = oil * gor * (1.0 + gor_growth * t);
            let water = oil * wor * (1.0 + 0.1 * t);
            cum += oil;
            gas_cum += gas;
            water_cum += water;
            let mut p = Map::new();
            let pid = rng.hex_id();
            p.insert("id".into(), json!(pid));
            p.insert("wellId".into(), json!(api14));
            p.insert("prodDate".into(), json!(format!("{y:04}-{m:02}-01")));
            p.insert("daysOn".into(), json!(round(days_on * uptime, 1)));
            p.insert("oilVol_bbl".into(), json!(round(oil, 1)));
            p.insert("gasVol_Mcf".into(), json!(round(gas, 1)));
            p.insert("waterVol_bbl".into(), json!(round(water, 1)));
            p.insert("oilRate_bblPerDay".into(), json!(round(oil / dim, 2)));
            p.insert("gasRate_McfPerDay".into(), json!(round(gas / dim, 2)));
            p.insert("oilCum_bbl".into(), json!(round(cum, 1)));
            p.insert("gasCum_Mcf".into(), json!(round(gas_cum, 1)));
            p.insert("waterCum_bbl".into(), json!(round(water_cum, 1)));
            production.push((pid, Value::Object(p).to_string()));
            first = false;
            month_idx += 1;
            if m == 12 {
                y += 1;
                m = 1;
            } else {
                m += 1;
            }
        }
        wells.push((id, Value::Object(w).to_string()));
    }
    store.bulk_load(WELL_TYPE, wells)?;
    store.bulk_load(PRODUCTION_TYPE, production)?;
    let petrons = [
        (
            "Decline Curve Petron",
            "Fits Arps decline curves to monthly production.",
        ),
        (
            "Spacing Petron",
            "Estimates well spacing from surface and bottom-hole locations.",
        ),
        (
            "Completions Petron",
            "Compares proppant and fluid intensity across operators.",
        ),
        (
            "Type Curve Petron",
            "Builds P10/P50/P90 type curves by basin and formation.",
        ),
        (
            "Parent-Child Petron",
            "Flags child wells drilled near producing parents.",
        ),
    ];
    store.bulk_load(
        PETRON_TYPE,
        petrons.iter().map(|(name, desc)| {
            let id = rng.hex_id();
            let doc = json!({"id": id, "name": name, "description": desc}).to_string();
            (id, doc)
        }),
    )?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::query::{compile_filter, Options};
    use super::*;

    #[test]
    fn deterministic_and_plausible() {
        let size = SampleSize {
            wells: 50,
            max_months: 24,
        };
        let a = Store::open(None).unwrap();
        load(&a, 7, size).unwrap();
        let b = Store::open(None).unwrap();
        load(&b, 7, size).unwrap();
        let all = compile_filter(None).unwrap();
        let wa = a.query("well", &all, &Options::default()).unwrap();
        let wb = b.query("well", &all, &Options::default()).unwrap();
        assert_eq!(wa.len(), 50);
        assert_eq!(wa, wb);
        let w = &wa[0];
        let prod = a
            .query(
                "monthlyproduction",
                &compile_filter(Some(&json!({"wellId": w["wellId"].clone()}))).unwrap(),
                &Options::default(),
            )
            .unwrap();
        assert!(!prod.is_empty());
        // Rates decline overall from the first full month to the last.
        if prod.len() > 6 {
            let r1 = prod[1]["oilRate_bblPerDay"].as_f64().unwrap();
            let rn = prod[prod.len() - 1]["oilRate_bblPerDay"].as_f64().unwrap();
            assert!(rn < r1, "{r1} -> {rn}");
        }
    }

    #[test]
    fn default_size_is_quick() {
        let s = Store::open(None).unwrap();
        let t = std::time::Instant::now();
        load(&s, 42, SampleSize::default()).unwrap();
        let loaded = t.elapsed();
        s.ensure_indexes().unwrap();
        eprintln!(
            "default sample: {} records, loaded in {loaded:?}, indexed by {:?}",
            s.total().unwrap(),
            t.elapsed()
        );
    }
}
