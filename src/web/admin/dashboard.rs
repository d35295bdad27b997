//! `GET /admin`: the back office's first page.

use super::AdminLayout;
use super::session::StaffSession;
use crate::application::Shop;
use crate::web::error::PageResult;
use crate::web::layout::render;
use actix_web::{HttpResponse, get, web};
use askama::Template;

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    layout: AdminLayout,
}

#[get("/admin")]
async fn dashboard(shop: web::Data<Shop>, staff: StaffSession) -> PageResult<HttpResponse> {
    render(&DashboardPage {
        layout: AdminLayout::new(&shop, &staff, "dashboard"),
    })
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(dashboard);
}
